import type { WebhookCommand } from '@triggers/contracts';

/** The spec's retry rule as configuration: the delay of the retry tier and how long retries go on. */
export interface RetryPolicy {
  /** "a retry will be dispatched after 10 minutes": WEBHOOK_RETRY_DELAY_MS. */
  delayMs: number;
  /** "retries will happen for 48 hours": WEBHOOK_RETRY_WINDOW_MS, counted from the first attempt. */
  windowMs: number;
  /** How long a minute of a trigger's own window lasts (WEBHOOK_RETRY_WINDOW_MINUTE_MS: a minute, less in compressed time). */
  windowMinuteMs: number;
}

/**
 * A command's retry window: its trigger's `retryWindow` (minutes, each `windowMinuteMs` long)
 * where it has one, never longer than the dispatcher's own; else the dispatcher's.
 */
export function windowOf(command: Pick<WebhookCommand, 'retryWindowMinutes'>, policy: RetryPolicy): number {
  const minutes = command.retryWindowMinutes;
  return minutes === null || minutes === undefined ? policy.windowMs : Math.min(policy.windowMs, minutes * policy.windowMinuteMs);
}

/** What follows a failed attempt: another one at `retryAt`, or the end of the command's window. */
export type NextAttempt = { retryAt: number } | { giveUp: true; reason: string };

/**
 * The webhook retry rule: after an attempt that failed at `failedAt`, the next attempt is due
 * `delayMs` later, unless that is past the command's window ({@link windowOf}) after its first
 * attempt; then the command is given up. An endpoint that asked to wait `askedMs` (`Retry-After`)
 * waits that long instead when it is longer, but never past the window's end: the last attempt is
 * then made there. `failure` says what the last attempt met, for the reason.
 */
export function nextAttempt(
  command: Pick<WebhookCommand, 'attempt' | 'firstAttemptAt' | 'retryWindowMinutes'>,
  failedAt: number,
  policy: RetryPolicy,
  failure = 'failed',
  askedMs: number | null = null,
): NextAttempt {
  const tier = failedAt + policy.delayMs;
  const window = windowOf(command, policy);
  const end = command.firstAttemptAt + window;
  if (tier <= end) return { retryAt: askedMs === null ? tier : Math.max(tier, Math.min(failedAt + askedMs, end)) };
  return { giveUp: true, reason: `gave up after ${command.attempt} attempts over ${span(window)}; last: ${failure}` };
}

/** A window as a person reads it: `48 h`, `2 min`, `3.5 s`. */
function span(ms: number): string {
  const round = (n: number) => Math.round(n * 100) / 100;
  if (ms >= 3_600_000) return `${round(ms / 3_600_000)} h`;
  if (ms >= 60_000) return `${round(ms / 60_000)} min`;
  return `${round(ms / 1000)} s`;
}
