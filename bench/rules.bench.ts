import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TriggerIndex, Trigger } from '@triggers/rules';
import { percentile, report } from './bench-report';

/** Triggers per tenant and event type for the scaling figures. */
const SCALES = [10, 100, 1_000, 10_000] as const;

/**
 * One agent.wrap event against a tenant's triggers of its type, each on its own campaignId (as
 * tenants configure them) with two more conditions the event mostly satisfies, at 10, 100, 1,000
 * and 10,000 triggers: events per second and per-event latency at each, and whether the cost
 * stays flat (the 10,000 figure within 2× of the 10 figure). Single-threaded: one core.
 */
export async function rulesBenchmark(): Promise<void> {
  const event = JSON.parse(readFileSync(join(__dirname, '../../shared/spec/payloads/agent-wrap-predictive-outbound.json'), 'utf8'));
  const payload = event.payload;
  const scaling: Record<string, number> = {};
  /** The same events judged against every trigger in turn (what matching cost before triggers were filed), for comparison. */
  const linear: Record<string, number> = {};
  const latency: Record<string, { p50: number; p99: number }> = {};
  let matchedPerEvent = 0;
  for (const triggers of SCALES) {
    const index = new TriggerIndex();
    for (let i = 0; i < triggers; i++) {
      // Trigger 0 is on the event's own campaign; the others on campaigns of their own.
      const trigger: Trigger = {
        name: `bench ${i}`,
        eventType: 'agent.wrap',
        enabled: true,
        conditions: [
          { reference: 'campaignId', operator: '=', value: i === 0 ? String(payload.campaignId) : String(100_000 + i) },
          { reference: 'lead.totalAttempts', operator: '>=', value: '1' },
          { reference: 'wrapCode', operator: 'in', value: `${payload.wrapCode}, ${i % 300}` },
        ],
        actions: [{ action: 'webhook', parameters: { url: `https://hooks.example/${i}` } }],
      };
      index.upsert('tenant-1', `t${i}`, 1, trigger);
      // Noise: other tenants' triggers of the same type must cost nothing.
      index.upsert(`other-${i % 100}`, `o${i}`, 1, trigger);
    }
    matchedPerEvent = index.match('tenant-1', 'agent.wrap', payload).length;
    for (let i = 0; i < 20_000; i++) index.match('tenant-1', 'agent.wrap', payload); // warm-up (JIT)
    const samples: number[] = [];
    const start = process.hrtime.bigint();
    let events = 0;
    let now = start;
    while (Number(now - start) / 1e6 < 1_500) {
      const t0 = process.hrtime.bigint();
      index.match('tenant-1', 'agent.wrap', payload);
      now = process.hrtime.bigint();
      samples.push(Number(now - t0) / 1e3);
      events++;
    }
    samples.sort((a, b) => a - b);
    scaling[String(triggers)] = Math.round(events / (Number(now - start) / 1e9));
    const all = index.triggersOf('tenant-1', 'agent.wrap');
    const linearStart = process.hrtime.bigint();
    let linearEvents = 0;
    while (Number(process.hrtime.bigint() - linearStart) / 1e6 < 500) {
      const cache = new Map();
      for (let i = 0; i < all.length; i++) all[i].compiled.matches(payload, cache);
      linearEvents++;
    }
    linear[String(triggers)] = Math.round(linearEvents / (Number(process.hrtime.bigint() - linearStart) / 1e9));
    latency[String(triggers)] = { p50: +percentile(samples, 50).toFixed(2), p99: +percentile(samples, 99).toFixed(2) };
  }
  const mem = process.memoryUsage();
  report('rules', {
    setup: { triggersPerTenantAndType: [...SCALES], conditionsPerTrigger: 3, otherTenantsTriggersEach: 'as many as the tenant', matchedPerEvent },
    scaling: { eventsPerSecond: scaling, latencyMicroseconds: latency, linearScanEventsPerSecond: linear },
    ratios: { eventsPerSecond10kTo10: +(scaling['10000'] / scaling['10']).toFixed(3) },
    flat: scaling['10000'] * 2 >= scaling['10'],
    memory: { rssMB: +(mem.rss / 2 ** 20).toFixed(1), heapUsedMB: +(mem.heapUsed / 2 ** 20).toFixed(1) },
  });
}
