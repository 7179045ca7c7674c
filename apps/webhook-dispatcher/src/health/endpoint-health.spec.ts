import type { LogRecord } from '@triggers/contracts';
import { stepRecord } from '@triggers/testing';
import type { KafkaMessage } from 'kafkajs';
import { EndpointHealth, HealthPolicy, flushGaveUp, isEndpointAttempt, observeAttempt, prejudgeLogMessage } from './endpoint-health';

const MINUTE = 60_000;
/** The rule: 5 failures in a row, or under 50% success over 15 minutes with at least 10 attempts; gave-ups told every 10 minutes at most. */
const policy: HealthPolicy = {
  failingAfterConsecutive: 5,
  windowMs: 15 * MINUTE,
  windowMinAttempts: 10,
  windowMinSuccessRatio: 0.5,
  gaveUpEveryMs: 10 * MINUTE,
};
const t0 = Date.UTC(2026, 0, 1);

let n = 0;
const attempt = (ok: boolean | 'gave_up', at: number, over: Partial<LogRecord> = {}): LogRecord => ({
  ...stepRecord({
    logId: `l${++n}`,
    tenantId: 'acme',
    triggerId: 't1',
    step: ok === true ? 'webhook.delivered' : ok === 'gave_up' ? 'webhook.gave_up' : 'webhook.attempt',
    time: at,
  }),
  ...over,
});

/** Feeds records in order; returns the final health and every notice type made. */
function run(records: LogRecord[], start?: EndpointHealth): { health: EndpointHealth | undefined; notices: string[]; ids: string[] } {
  let health = start;
  const notices: string[] = [];
  const ids: string[] = [];
  for (const r of records) {
    const { next, notices: made } = observeAttempt(health, r, policy);
    health = next;
    for (const m of made) {
      notices.push(m.type);
      ids.push(m.id);
    }
  }
  return { health, notices, ids };
}

describe('endpoint health: when a trigger endpoint is failing, and each transition told once', () => {
  it.each([
    ['four failures in a row: still healthy', [false, false, false, false], [], 'healthy'],
    ['five failures in a row: failing, told once', [false, false, false, false, false], ['trigger.endpoint.failing'], 'failing'],
    ['more failures while failing: told no more', Array(12).fill(false), ['trigger.endpoint.failing'], 'failing'],
    ['a success while healthy: nothing to tell', [false, false, true, false], [], 'healthy'],
    [
      'failing, then a delivery: recovered, told once',
      [false, false, false, false, false, true, true],
      ['trigger.endpoint.failing', 'trigger.endpoint.recovered'],
      'healthy',
    ],
    [
      'recovered, then one failure: the window starts afresh, so not failing again at once',
      [false, false, false, false, false, true, false],
      ['trigger.endpoint.failing', 'trigger.endpoint.recovered'],
      'healthy',
    ],
    // 10 attempts in the window, 4 ok: 40% < 50%, though never 5 failures in a row.
    [
      'under half delivered over 10 attempts in the window: failing',
      [false, true, false, false, true, false, false, true, false, true, false],
      ['trigger.endpoint.failing'],
      'failing',
    ],

    ['half delivered over 10 attempts: healthy', [false, true, false, true, false, true, false, true, false, true], [], 'healthy'],
  ])('%s', (_what, outcomes, expected, state) => {
    const { health, notices } = run((outcomes as boolean[]).map((ok, i) => attempt(ok, t0 + i * 1000)));
    expect(notices).toEqual(expected);
    expect(health?.state).toBe(state);
  });

  it('says which rule made it failing', () => {
    const rows = (outcomes: boolean[]) => run(outcomes.map((ok, i) => attempt(ok, t0 + i * 1000)));
    const failingOf = (outcomes: boolean[]) => {
      let h: EndpointHealth | undefined;
      for (const [i, ok] of outcomes.entries()) {
        const r = observeAttempt(h, attempt(ok, t0 + i * 1000), policy);
        h = r.next;
        if (r.notices.length > 0) return r.notices[0].payload;
      }
      return undefined;
    };
    expect(rows([false, false, false, false, false]).notices).toEqual(['trigger.endpoint.failing']);
    expect(failingOf([false, false, false, false, false])).toMatchObject({ rule: 'consecutive-failures', consecutiveFailures: 5, lastError: 'HTTP 503' });
    expect(failingOf([false, true, false, false, true, false, false, true, false, true, false])).toMatchObject({
      rule: 'success-ratio',
      consecutiveFailures: 1,
      window: { attempts: 11, failed: 7, minutes: 15 },
    });
  });

  it('counts the ratio over the last 15 minutes only: failures older than the window are forgotten', () => {
    // 6 failures and 4 deliveries, but the failures 20 minutes before the deliveries and the last failure.
    const old = [false, true, false, true, false, true, false, true].map((ok, i) => attempt(ok, t0 + i * 1000));
    const recent = [true, false, true, false].map((ok, i) => attempt(ok, t0 + 20 * MINUTE + i * 1000));
    expect(run([...old, ...recent]).notices).toEqual([]);
  });

  it('gives each notice an id from the trigger and its count of notices, so a batch processed again after a crash makes the same ids', () => {
    const records = [false, false, false, false, false, true].map((ok, i) => attempt(ok, t0 + i * 1000));
    const once = run(records);
    const again = run(records);
    expect(once.ids).toEqual(again.ids);
    expect(new Set(once.ids).size).toBe(2);
    // Replayed from the committed health after the failing notice: the recovered notice has the same id.
    const failing = run(records.slice(0, 5));
    expect(run(records.slice(5), failing.health).ids).toEqual([once.ids[1]]);
  });

  it('does not change the health it is given (the committed state stays as committed)', () => {
    const before = run([false, false, false].map((ok, i) => attempt(ok, t0 + i))).health!;
    const copy = JSON.parse(JSON.stringify(before)) as EndpointHealth;
    observeAttempt(before, attempt(false, t0 + 10), policy);
    expect(before).toEqual(copy);
  });

  it('tells given-up commands at once, then at most once per 10 minutes, carrying the count held back', () => {
    const first = observeAttempt(undefined, attempt('gave_up', t0), policy);
    expect(first.notices.map((x) => [x.type, x.payload.count])).toEqual([['trigger.webhook.gave_up', 1]]);
    let h = first.next;
    for (let i = 1; i <= 3; i++) {
      const r = observeAttempt(h, attempt('gave_up', t0 + i * MINUTE), policy);
      expect(r.notices.filter((x) => x.type === 'trigger.webhook.gave_up')).toEqual([]);
      h = r.next;
    }
    expect(h.gaveUpPending).toBe(3);
    expect(flushGaveUp({ ...h }, t0 + 9 * MINUTE, policy)).toBeNull();
    const told = flushGaveUp(h, t0 + 10 * MINUTE, policy);
    expect(told).toMatchObject({ type: 'trigger.webhook.gave_up', payload: { count: 3 } });
    expect(h.gaveUpPending).toBe(0);
    expect(flushGaveUp(h, t0 + 30 * MINUTE, policy)).toBeNull();
  });

  it.each([
    ['a delivery', 'webhook.delivered', 'event', true],
    ['a failed attempt', 'webhook.attempt', 'manual', true],
    ['a blocked address', 'webhook.blocked', 'event', true],
    ['a notification sent to the tenant (its own failures are no sign of the endpoint)', 'webhook.attempt', 'notification', false],
    ['a match', 'matched', 'event', false],
    ['a lead move', 'lead.moved', 'event', false],
  ])('%s counts for the endpoint health: %s', (_what, step, origin, counts) => {
    expect(isEndpointAttempt({ ...attempt(true, t0), step, origin })).toBe(counts);
  });

  describe('reading the log without decoding it', () => {
    const message = (headers: Record<string, string>, key = 'acme/t1'): KafkaMessage =>
      ({ key: Buffer.from(key), value: Buffer.from('not decoded'), timestamp: String(t0), offset: '0', attributes: 0, headers }) as unknown as KafkaMessage;

    it.each([
      ['a match', { 'log-step': 'matched', 'log-origin': 'event' }, 'skip'],
      ['a lead move', { 'log-step': 'lead.moved', 'log-origin': 'event' }, 'skip'],
      ['a transition record', { 'log-step': 'endpoint.failing', 'log-origin': 'notification' }, 'skip'],
      ['a notification delivered', { 'log-step': 'webhook.delivered', 'log-origin': 'notification' }, 'skip'],
      ['a delivery', { 'log-step': 'webhook.delivered', 'log-origin': 'event' }, 'value'],
      ['a failed attempt (its URL and error are read from the record)', { 'log-step': 'webhook.attempt', 'log-origin': 'event' }, 'decode'],
      ['a record without the origin header (written before it existed)', { 'log-step': 'webhook.delivered' }, 'decode'],
      ['a record without headers', {}, 'decode'],
    ])('%s: %s', (_what, headers, expected) => {
      const r = prejudgeLogMessage(message(headers));
      expect(r === undefined ? 'decode' : 'skip' in r ? 'skip' : 'value').toBe(expected);
    });

    it('reads a delivery as the decoded record would count it: tenant and trigger from the key, the time from the timestamp', () => {
      const r = prejudgeLogMessage(message({ 'log-step': 'webhook.delivered', 'log-origin': 'bulk', 'log-id': 'log_1' }));
      expect(r).toEqual({
        value: expect.objectContaining({ logId: 'log_1', tenantId: 'acme', triggerId: 't1', step: 'webhook.delivered', origin: 'bulk', time: t0 }),
      });
      expect(isEndpointAttempt((r as { value: LogRecord }).value)).toBe(true);
      expect(prejudgeLogMessage(message({ 'log-step': 'webhook.delivered', 'log-origin': 'event' }, 'no-slash'))).toBeUndefined();
    });
  });
});
