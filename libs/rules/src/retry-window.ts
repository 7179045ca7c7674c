import type { WebhookAction } from './trigger.model';

/** The shortest retry window a webhook action may ask for: one retry of the 10-minute tier. */
export const MIN_RETRY_WINDOW_MINUTES = 10;
/** The longest: the spec's "retries will happen for 48 hours". */
export const MAX_RETRY_WINDOW_MINUTES = 48 * 60;

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i;

/**
 * A webhook action's `retryWindow` in minutes: a whole number of minutes, or an ISO-8601
 * duration in days, hours, minutes and seconds ("PT30M", "PT2H", "P1DT12H") of whole minutes,
 * from 10 minutes to 48 hours. Anything else is `{ problem }`, said for the tenant.
 */
export function parseRetryWindow(raw: unknown): { minutes: number } | { problem: string } {
  const expected = `retryWindow must be from 10 minutes to 48 hours, as minutes (30) or an ISO-8601 duration ("PT30M", "PT2H"), got ${JSON.stringify(raw)}`;
  let minutes: number;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return { problem: expected };
    minutes = raw;
  } else if (typeof raw === 'string') {
    const m = ISO_DURATION.exec(raw.trim());
    if (!m || raw.trim().toUpperCase() === 'P' || raw.trim().toUpperCase().endsWith('T')) return { problem: expected };
    const [days, hours, mins, secs] = m.slice(1).map((v) => Number(v ?? 0));
    if (secs % 60 !== 0) return { problem: `${expected} (whole minutes only)` };
    minutes = days * 1440 + hours * 60 + mins + secs / 60;
  } else return { problem: expected };
  if (minutes < MIN_RETRY_WINDOW_MINUTES || minutes > MAX_RETRY_WINDOW_MINUTES) return { problem: expected };
  return { minutes };
}

/** The retry window of a validated webhook action in minutes, or null for the spec's 48 hours. */
export function retryWindowMinutesOf(action: WebhookAction): number | null {
  if (action.parameters.retryWindow === undefined) return null;
  const window = parseRetryWindow(action.parameters.retryWindow);
  return 'minutes' in window ? window.minutes : null;
}
