/** Capped exponential backoff: `firstMs`, twice that, and so on up to `maxMs`, for ever. */
export function* backoffDelays(firstMs: number, maxMs: number): Generator<number, never, unknown> {
  for (let delay = firstMs; ; delay = Math.min(delay * 2, maxMs)) yield delay;
}

/** How {@link retryWithBackoff} waits and when it stops. */
export interface RetryOptions {
  firstMs: number;
  maxMs: number;
  /** Checked before every try: once true, no further try is made. */
  stopped?: () => boolean;
  /**
   * Called with each failure and the wait before the next try (to log it, to clean up: a
   * promise is awaited); answering `false` ends the retries, and throwing ends them with that error.
   */
  onFailure: (err: unknown, retryInMs: number) => boolean | void | Promise<void>;
}

/**
 * Runs `attempt` until it succeeds, with capped exponential backoff between failures: how a
 * process waits for a dependency that is not up yet instead of crash-looping. Resolves true once
 * `attempt` succeeded, false when it stopped first.
 */
export async function retryWithBackoff(attempt: () => Promise<unknown>, options: RetryOptions): Promise<boolean> {
  for (const delay of backoffDelays(options.firstMs, options.maxMs)) {
    if (options.stopped?.()) return false;
    try {
      await attempt();
      return true;
    } catch (err) {
      if ((await options.onFailure(err, delay)) === false) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return false;
}
