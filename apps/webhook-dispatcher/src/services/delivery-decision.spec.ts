import type { WebhookCommand } from '@triggers/contracts';
import { testWebhookCommand } from '@triggers/testing';
import { AttemptResult, Decision, decide, replayedCommand, retryAfterMs } from './delivery-decision';
import type { RetryPolicy } from './retry-policy';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The spec's rule: a retry every 10 minutes, for 48 hours after the first attempt. */
const spec: RetryPolicy = { delayMs: 10 * MINUTE, windowMs: 48 * HOUR, windowMinuteMs: MINUTE };
const first = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(first + ms).toISOString();

const command = (fields: Partial<WebhookCommand> = {}): WebhookCommand => ({ ...testWebhookCommand({ eventId: 'e1' }), firstAttemptAt: first, ...fields });
const answered = (status: number, headers: Record<string, string> = {}): AttemptResult => ({
  responseStatus: status,
  responseHeaders: headers,
  errorClass: status >= 200 && status < 300 ? null : 'http.status',
  error: status >= 200 && status < 300 ? null : `HTTP ${status}`,
  durationMs: 42,
});
const failed = (errorClass: Exclude<AttemptResult, { triggerDeleted: true }>['errorClass'], error: string): AttemptResult => ({
  responseStatus: null,
  responseHeaders: {},
  errorClass,
  error,
  durationMs: 5000,
});
const retry = (attempt: number, failure: string, retryAt: number, waited = ''): Decision => ({
  outcome: 'retry',
  step: 'webhook.attempt',
  status: 'failed',
  message: `attempt ${attempt} failed: ${failure}${waited}; next attempt at ${at(retryAt)}`,
  retryAt: first + retryAt,
});
const gaveUp = (reason: string, errorClass: 'gave_up' | 'gone' = 'gave_up'): Decision => ({
  outcome: 'gave_up',
  step: 'webhook.gave_up',
  status: 'failed',
  message: reason,
  deadLetter: { reason, errorClass },
});

describe('the delivery decision', () => {
  it.each<[string, Partial<WebhookCommand>, AttemptResult, number, Decision]>([
    [
      '2xx: delivered',
      {},
      answered(200),
      0,
      { outcome: 'delivered', step: 'webhook.delivered', status: 'ok', message: 'delivered: HTTP 200 in 42 ms (attempt 1)' },
    ],
    [
      '204 on a later attempt: delivered',
      { attempt: 7 },
      answered(204),
      HOUR,
      { outcome: 'delivered', step: 'webhook.delivered', status: 'ok', message: 'delivered: HTTP 204 in 42 ms (attempt 7)' },
    ],
    ['a 4xx is retried on the tier', {}, answered(400), 0, retry(1, 'HTTP 400', 10 * MINUTE)],
    ['a 5xx is retried on the tier', { attempt: 2 }, answered(500), 10 * MINUTE, retry(2, 'HTTP 500', 20 * MINUTE)],
    ['a 3xx is not followed: retried', {}, answered(301, { location: 'https://elsewhere.example/' }), 0, retry(1, 'HTTP 301', 10 * MINUTE)],
    [
      '410 Gone: given up at once and dead-lettered',
      { attempt: 3 },
      answered(410),
      20 * MINUTE,
      gaveUp('gone, not retried: HTTP 410 at attempt 3, the endpoint says it no longer exists', 'gone'),
    ],
    ['429 without Retry-After: the tier', {}, answered(429), 0, retry(1, 'HTTP 429', 10 * MINUTE)],
    [
      '429 asking for an hour: the next attempt an hour later',
      {},
      answered(429, { 'retry-after': '3600' }),
      0,
      retry(1, 'HTTP 429', HOUR, '; the endpoint asked to wait 3600 s (Retry-After)'),
    ],
    [
      '503 asking for an hour as an HTTP date',
      {},
      answered(503, { 'retry-after': new Date(first + 2 * HOUR).toUTCString() }),
      HOUR,
      retry(1, 'HTTP 503', 2 * HOUR, '; the endpoint asked to wait 3600 s (Retry-After)'),
    ],
    ['429 asking for less than the tier: never sooner than the tier', {}, answered(429, { 'retry-after': '5' }), 0, retry(1, 'HTTP 429', 10 * MINUTE)],
    ['429 with an unreadable Retry-After: the tier', {}, answered(429, { 'retry-after': 'soon' }), 0, retry(1, 'HTTP 429', 10 * MINUTE)],
    ['Retry-After on a 500 is not back-pressure: the tier', {}, answered(500, { 'retry-after': '3600' }), 0, retry(1, 'HTTP 500', 10 * MINUTE)],
    [
      '429 asking past the window: the last attempt at the window’s end',
      { attempt: 280 },
      answered(429, { 'retry-after': String(4 * 3600) }),
      46 * HOUR,
      retry(280, 'HTTP 429', 48 * HOUR, '; the endpoint asked to wait 14400 s (Retry-After)'),
    ],
    [
      'a headers timeout is retried',
      {},
      failed('timeout.headers', 'Headers Timeout Error'),
      0,
      retry(1, 'timeout.headers: Headers Timeout Error', 10 * MINUTE),
    ],
    ['a reset connection is retried', {}, failed('connection.reset', 'other side closed'), 0, retry(1, 'connection.reset: other side closed', 10 * MINUTE)],
    [
      'a refused connection is retried',
      {},
      failed('connection.refused', 'connect ECONNREFUSED'),
      0,
      retry(1, 'connection.refused: connect ECONNREFUSED', 10 * MINUTE),
    ],
    ['an endpoint that could not take it is retried', {}, failed('origin.busy', 'not sent'), 0, retry(1, 'origin.busy: not sent', 10 * MINUTE)],
    [
      'an oversized 2xx response is delivered (only its first bytes are kept)',
      {},
      { ...answered(200), durationMs: 3 },
      0,
      { outcome: 'delivered', step: 'webhook.delivered', status: 'ok', message: 'delivered: HTTP 200 in 3 ms (attempt 1)' },
    ],
    [
      'a refused address: blocked, never retried',
      {},
      failed('blocked', 'resolves to 10.0.0.1 (10.0.0.0/8)'),
      0,
      { outcome: 'blocked', step: 'webhook.blocked', status: 'failed', message: 'blocked, not retried: resolves to 10.0.0.1 (10.0.0.0/8)' },
    ],
    [
      'the trigger was deleted: cancelled, nothing sent',
      { attempt: 4 },
      { triggerDeleted: true },
      HOUR,
      { outcome: 'cancelled', step: 'webhook.gave_up', status: 'failed', message: 'cancelled: the trigger was deleted' },
    ],
    [
      'the 48-hour edge: a retry due exactly at its end is still made',
      { attempt: 288 },
      answered(500),
      47 * HOUR + 50 * MINUTE,
      retry(288, 'HTTP 500', 48 * HOUR),
    ],
    [
      'one ms later it would start after the window: given up',
      { attempt: 288 },
      answered(500),
      47 * HOUR + 50 * MINUTE + 1,
      gaveUp('gave up after 288 attempts over 48 h; last: HTTP 500'),
    ],
    [
      'a trigger’s own 30-minute window',
      { attempt: 3, retryWindowMinutes: 30 },
      answered(500),
      25 * MINUTE,
      gaveUp('gave up after 3 attempts over 30 min; last: HTTP 500'),
    ],
    [
      'a backlog read after its window: given up at its first failure',
      {},
      failed('connection.refused', 'refused'),
      72 * HOUR,
      gaveUp('gave up after 1 attempts over 48 h; last: connection.refused: refused'),
    ],
  ])('%s', (_what, fields, result, endedAfter, expected) => {
    expect(decide(command(fields), result, spec, first + endedAfter)).toEqual(expected);
  });
});

describe('Retry-After', () => {
  it.each<[string | undefined, number | null]>([
    [undefined, null],
    ['120', 120_000],
    [' 0 ', 0],
    [new Date(first + 90_000).toUTCString(), 90_000],
    [new Date(first - 90_000).toUTCString(), 0],
    ['-5', null],
    ['1.5', null],
    ['tomorrow', null],
  ])('%s waits %s ms', (value, expected) => {
    expect(retryAfterMs(value, first)).toBe(expected);
  });
});

describe('replayedCommand', () => {
  const given = { ...testWebhookCommand({ eventId: 'e1' }), attempt: 289, firstAttemptAt: 1_000, dueAt: 2_000 };

  it('leaves a command as read unless it was replayed from the dead-letter topic', () => {
    expect(replayedCommand(given, { headers: {}, timestamp: '5000' })).toBe(given);
    expect(replayedCommand(given, { headers: { 'dlq-reason': 'x' }, timestamp: '5000' })).toBe(given);
  });

  it('starts a replayed command over: first attempt, its window counted from the replay, so its decision retries again', () => {
    const replayedAt = 1_000 + 49 * HOUR;
    const replayed = replayedCommand(given, { headers: { 'dlq-replayed-from': 'triggers.deadletter.webhook.v1:0:7' }, timestamp: String(replayedAt) });
    expect(replayed).toEqual({ ...given, attempt: 1, firstAttemptAt: replayedAt, dueAt: null });
    expect(decide(replayed, answered(500), spec, replayedAt + 1000)).toMatchObject({ outcome: 'retry', retryAt: replayedAt + 1000 + 10 * MINUTE });
    expect(decide(given, answered(500), spec, replayedAt + 1000)).toMatchObject({ outcome: 'gave_up' });
  });
});
