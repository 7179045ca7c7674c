import { sampleEvent } from '@triggers/contracts';
import { createTenantKey, startApi } from '@triggers/testing';
import { LIMITS } from '@triggers/rules';
import { report } from './bench-report';
import { CpuMeter } from './cpu-meter';
import { benchContext } from './infra';

const hook = { action: 'webhook', parameters: { url: 'https://hooks.example/bench' } };

/** The worst requests a tenant can send, each as a POST /v1/triggers/evaluate body (validated, nothing stored). */
function worstCases(): Record<string, unknown> {
  const reference = 'lead.' + 'x'.repeat(LIMITS.reference - 5);
  const biggest = {
    conditions: Array.from({ length: LIMITS.conditions }, (_, i) => ({
      reference: `lead.phones.${i}.numbr`,
      operator: 'in',
      value: Array.from({ length: LIMITS.inValues }, (_, j) => `${i}-${j}`)
        .join(',')
        .slice(0, LIMITS.value),
    })),
    actions: Array.from({ length: LIMITS.actions }, () => hook),
  };
  let deep: unknown = 1;
  for (let i = 0; i < LIMITS.jsonDepth - 3; i++) deep = [deep];
  return {
    longestReference: { eventType: 'agent.wrap', parameters: JSON.stringify({ conditions: [{ reference, operator: '=', value: '1' }], actions: [hook] }) },
    biggestTrigger: { eventType: 'agent.wrap', parameters: JSON.stringify(biggest) },
    deepestJson: { eventType: 'agent.wrap', parameters: JSON.stringify({ conditions: [], actions: [hook], extra: deep }) },
    refusedReference95k: {
      eventType: 'agent.wrap',
      parameters: JSON.stringify({ conditions: [{ reference: 'x'.repeat(95_000), operator: '=', value: '1' }], actions: [hook] }),
    },
  };
}

/**
 * The worst-case cost of one API request, as CPU the API process spends on it (microseconds,
 * from /proc), for the longest reference, the biggest allowed trigger, the deepest allowed JSON and
 * a refused 95,000-character reference: each sent 300 times, one after the other.
 */
export async function apiBenchmark(): Promise<void> {
  const { ctx, stopInfra } = await benchContext();
  const { app, client } = await startApi(ctx, { API_RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'warn' });
  const api = client.withKey(await createTenantKey(ctx, 'bench'));
  const figures: Record<string, unknown> = {};
  try {
    const event = sampleEvent('agent.wrap');
    for (const [name, trigger] of Object.entries(worstCases())) {
      const body = { trigger, event };
      const bytes = JSON.stringify(body).length;
      for (let i = 0; i < 50; i++) await api.post('/v1/triggers/evaluate', body); // warm-up (JIT)
      const meter = new CpuMeter({ api: app.child.pid });
      const started = process.hrtime.bigint();
      const N = 300;
      let status = 0;
      for (let i = 0; i < N; i++) status = (await api.post('/v1/triggers/evaluate', body)).status;
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6 / N;
      figures[name] = { status, bodyBytes: bytes, apiCpuMicrosecondsPerRequest: meter.perUnit(N).api, wallMillisecondsPerRequest: +wallMs.toFixed(2) };
    }
    // The floor: the smallest valid request, through the same path.
    const meter = new CpuMeter({ api: app.child.pid });
    for (let i = 0; i < 300; i++)
      await api.post('/v1/triggers/evaluate', { trigger: { eventType: 'agent.wrap', parameters: JSON.stringify({ conditions: [], actions: [hook] }) }, event });
    figures.smallestRequest = { apiCpuMicrosecondsPerRequest: meter.perUnit(300).api };
  } finally {
    await app.stop();
    await stopInfra();
  }
  report('api', { requests: 300, figures });
}
