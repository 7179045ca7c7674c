import type { KafkaMessage } from 'kafkajs';
import { DEAD_LETTER_HEADERS, WebhookCommand, inNewWindow } from '@triggers/contracts';
import type { WebhookFailure } from '@triggers/errors';
import { RetryPolicy, nextAttempt } from './retry-policy';

/** What became of one delivery attempt. */
export type DeliveryOutcome = 'delivered' | 'retry' | 'gave_up' | 'blocked' | 'cancelled';

/** What an attempt met: the endpoint's answer or the failure before one, or no attempt because the trigger is gone. */
export type AttemptResult =
  | {
      responseStatus: number | null;
      responseHeaders: Record<string, string>;
      errorClass: WebhookFailure | null;
      error: string | null;
      durationMs: number;
    }
  | { triggerDeleted: true };

/**
 * Everything an attempt's outcome writes: one log record (its step, status and message), and for
 * a retry the next attempt's due time, for a command given up the dead letter's reason and class
 * (the command goes to the dead-letter topic as read).
 */
export interface Decision {
  outcome: DeliveryOutcome;
  step: 'webhook.delivered' | 'webhook.attempt' | 'webhook.gave_up' | 'webhook.blocked';
  status: 'ok' | 'failed';
  message: string;
  retryAt?: number;
  deadLetter?: { reason: string; errorClass: 'gave_up' | 'gone' };
}

/** Statuses whose `Retry-After` may lengthen the wait before the next attempt (Standard Webhooks). */
const BACK_PRESSURE = new Set([429, 503]);

/**
 * How long a `Retry-After` value asks to wait from `now`, in ms: delay-seconds or an HTTP date
 * (RFC 9110 10.2.3); null when absent or unreadable (the tier alone applies then).
 */
export function retryAfterMs(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The one decision of a delivery: from the command, what its attempt met, the retry policy and
 * the time the attempt ended, the outcome and what to write. Pure; the dispatcher's attempt step
 * and outcome writer do the I/O around it.
 *
 * - 2xx: delivered (a response past the size cap still counts; only its first bytes are kept).
 * - The address policy refused the URL: blocked, never retried.
 * - The trigger was deleted since the command was made: given up as cancelled, nothing sent.
 * - 410 Gone: given up at once (the endpoint says it no longer exists) and dead-lettered.
 * - Anything else (another status, a timeout, a reset, a refused connection, an endpoint that
 *   could not take it): the next attempt one retry tier later, or later still when a 429 or 503
 *   asks so with `Retry-After` (never past the command's window); given up and dead-lettered
 *   once the next attempt would start past the window.
 */
export function decide(command: WebhookCommand, attempt: AttemptResult, policy: RetryPolicy, now: number): Decision {
  if ('triggerDeleted' in attempt) return { outcome: 'cancelled', step: 'webhook.gave_up', status: 'failed', message: 'cancelled: the trigger was deleted' };
  const { responseStatus: status, errorClass, error } = attempt;
  if (errorClass === null)
    return {
      outcome: 'delivered',
      step: 'webhook.delivered',
      status: 'ok',
      message: `delivered: HTTP ${status} in ${attempt.durationMs} ms (attempt ${command.attempt})`,
    };
  if (errorClass === 'blocked') return { outcome: 'blocked', step: 'webhook.blocked', status: 'failed', message: `blocked, not retried: ${error}` };
  if (status === 410) {
    const reason = `gone, not retried: HTTP 410 at attempt ${command.attempt}, the endpoint says it no longer exists`;
    return { outcome: 'gave_up', step: 'webhook.gave_up', status: 'failed', message: reason, deadLetter: { reason, errorClass: 'gone' } };
  }
  const failure = status !== null ? `HTTP ${status}` : `${errorClass}: ${error}`;
  const asked = status !== null && BACK_PRESSURE.has(status) ? retryAfterMs(attempt.responseHeaders['retry-after'], now) : null;
  const next = nextAttempt(command, now, policy, failure, asked);
  if ('giveUp' in next)
    return { outcome: 'gave_up', step: 'webhook.gave_up', status: 'failed', message: next.reason, deadLetter: { reason: next.reason, errorClass: 'gave_up' } };
  const waited = asked !== null && next.retryAt > now + policy.delayMs ? `; the endpoint asked to wait ${Math.round(asked / 1000)} s (Retry-After)` : '';
  return {
    outcome: 'retry',
    step: 'webhook.attempt',
    status: 'failed',
    message: `attempt ${command.attempt} failed: ${failure}${waited}; next attempt at ${new Date(next.retryAt).toISOString()}`,
    retryAt: next.retryAt,
  };
}

/**
 * A command sent back from the dead-letter topic by `dlq replay` starts a new delivery window,
 * counted from when it was replayed (its message's time, the same however often it is read), so a
 * webhook given up after 48 hours gets its full retries again rather than one attempt.
 */
export function replayedCommand(command: WebhookCommand, m: Pick<KafkaMessage, 'headers' | 'timestamp'>): WebhookCommand {
  if (m.headers?.[DEAD_LETTER_HEADERS.replayedFrom] === undefined) return command;
  return inNewWindow(command, Number(m.timestamp));
}
