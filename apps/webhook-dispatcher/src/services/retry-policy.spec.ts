import { nextAttempt, RetryPolicy, windowOf } from './retry-policy';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The spec's rule: a retry every 10 minutes, for 48 hours after the first attempt. */
const spec: RetryPolicy = { delayMs: 10 * MINUTE, windowMs: 48 * HOUR, windowMinuteMs: MINUTE };
const first = Date.UTC(2026, 0, 1);

describe('the webhook retry rule', () => {
  it.each([
    ['the first attempt fails at once', 1, 0, { retryAt: first + 10 * MINUTE }],
    ['a failure after a slow request counts from when it failed', 1, 30_000, { retryAt: first + 30_000 + 10 * MINUTE }],
    ['attempt 2, ten minutes in', 2, 10 * MINUTE, { retryAt: first + 20 * MINUTE }],
    ['a retry due exactly at the end of the window is still made', 288, 47 * HOUR + 50 * MINUTE, { retryAt: first + 48 * HOUR }],
    [
      'one ms later it would start after the window: given up',
      288,
      47 * HOUR + 50 * MINUTE + 1,
      { giveUp: true, reason: 'gave up after 288 attempts over 48 h; last: HTTP 500' },
    ],
    [
      'a command read long after its window (a backlog) is given up at its first failure',
      1,
      72 * HOUR,
      { giveUp: true, reason: 'gave up after 1 attempts over 48 h; last: HTTP 500' },
    ],
  ])('%s', (_what, attempt, failedAfter, expected) => {
    expect(nextAttempt({ attempt, firstAttemptAt: first }, first + failedAfter, spec, 'HTTP 500')).toEqual(expected);
  });

  it('at the spec values a command that always fails is attempted 289 times: the first and one every 10 minutes for 48 hours', () => {
    let attempts = 1;
    let now = first;
    for (;;) {
      const next = nextAttempt({ attempt: attempts, firstAttemptAt: first }, now, spec);
      if ('giveUp' in next) break;
      now = next.retryAt;
      attempts++;
    }
    expect(attempts).toBe(289);
    expect(now).toBe(first + 48 * HOUR);
  });

  it('compressed time runs the same rule: 1 s retries for 3.5 s give four attempts', () => {
    const fast: RetryPolicy = { delayMs: 1000, windowMs: 3500, windowMinuteMs: 100 };
    expect(nextAttempt({ attempt: 3, firstAttemptAt: 0 }, 2000, fast)).toEqual({ retryAt: 3000 });
    expect(nextAttempt({ attempt: 4, firstAttemptAt: 0 }, 3000, fast)).toEqual({ giveUp: true, reason: 'gave up after 4 attempts over 3.5 s; last: failed' });
  });
});

describe("a trigger's own retry window", () => {
  it.each([
    ['30 minutes: the retries at 10, 20 and 30 minutes are made', 30, 3, 20 * MINUTE, { retryAt: first + 30 * MINUTE }],
    [
      '30 minutes: the fourth failure, at 30 minutes, gives up',
      30,
      4,
      30 * MINUTE,
      { giveUp: true, reason: 'gave up after 4 attempts over 30 min; last: HTTP 500' },
    ],
    ['10 minutes (the least): one retry', 10, 1, 0, { retryAt: first + 10 * MINUTE }],
    ['10 minutes: the retry failing gives up', 10, 2, 10 * MINUTE, { giveUp: true, reason: 'gave up after 2 attempts over 10 min; last: HTTP 500' }],
    ['2,880 minutes is the spec 48 hours', 2880, 288, 47 * HOUR + 50 * MINUTE, { retryAt: first + 48 * HOUR }],
    ['none: the dispatcher window', null, 288, 47 * HOUR + 50 * MINUTE, { retryAt: first + 48 * HOUR }],
  ])('%s', (_what, retryWindowMinutes, attempt, failedAfter, expected) => {
    expect(nextAttempt({ attempt, firstAttemptAt: first, retryWindowMinutes }, first + failedAfter, spec, 'HTTP 500')).toEqual(expected);
  });

  it('is never longer than the dispatcher window', () => {
    expect(windowOf({ retryWindowMinutes: 2880 }, { ...spec, windowMs: 24 * HOUR })).toBe(24 * HOUR);
  });

  it('runs in compressed time: 30 minutes of 100 ms with 1 s retries is three retries', () => {
    const fast: RetryPolicy = { delayMs: 1000, windowMs: 3_600_000, windowMinuteMs: 100 };
    expect(windowOf({ retryWindowMinutes: 30 }, fast)).toBe(3000);
    expect(nextAttempt({ attempt: 3, firstAttemptAt: 0, retryWindowMinutes: 30 }, 2000, fast)).toEqual({ retryAt: 3000 });
    expect(nextAttempt({ attempt: 4, firstAttemptAt: 0, retryWindowMinutes: 30 }, 3000, fast)).toEqual({
      giveUp: true,
      reason: 'gave up after 4 attempts over 3 s; last: failed',
    });
  });
});
