import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TriggerIndex, Trigger } from '@triggers/rules';
import { percentile, report } from './bench-report';

/**
 * One agent.wrap event against 1,000 triggers of its tenant and type, each with three
 * conditions the event mostly satisfies (so all three are checked): evaluations per second, the
 * condition checks that makes, per-event latency and memory. Single-threaded: one core.
 */
export async function rulesBenchmark(): Promise<void> {
  const event = JSON.parse(readFileSync(join(__dirname, '../../shared/spec/payloads/agent-wrap-predictive-outbound.json'), 'utf8'));
  const TRIGGERS = 1_000;
  const CONDITIONS = 3;
  const index = new TriggerIndex();
  for (let i = 0; i < TRIGGERS; i++) {
    const trigger: Trigger = {
      name: `bench ${i}`,
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [
        { reference: 'campaignId', operator: 'in', value: `20161, ${1000 + i}` },
        { reference: 'lead.totalAttempts', operator: '>=', value: '1' },
        { reference: 'wrapCode', operator: '=', value: String(i % 300) },
      ],
      actions: [{ action: 'webhook', parameters: { url: `https://hooks.example/${i}` } }],
    };
    index.upsert('tenant-1', `t${i}`, 1, trigger);
    // Noise: other tenants' triggers of the same type must cost nothing.
    index.upsert(`other-${i % 100}`, `o${i}`, 1, trigger);
  }
  const payload = event.payload;
  const matchedPerEvent = index.match('tenant-1', 'agent.wrap', payload).length;

  for (let i = 0; i < 2_000; i++) index.match('tenant-1', 'agent.wrap', payload); // warm-up (JIT)
  const samples: number[] = [];
  const durationMs = 3_000;
  const start = process.hrtime.bigint();
  let events = 0;
  let now = start;
  while (Number(now - start) / 1e6 < durationMs) {
    const t0 = process.hrtime.bigint();
    index.match('tenant-1', 'agent.wrap', payload);
    now = process.hrtime.bigint();
    samples.push(Number(now - t0) / 1e3);
    events++;
  }
  const seconds = Number(now - start) / 1e9;
  samples.sort((a, b) => a - b);
  const mem = process.memoryUsage();
  report('rules', {
    setup: { triggersOfTenantAndType: TRIGGERS, conditionsPerTrigger: CONDITIONS, otherTenantsTriggers: TRIGGERS, matchedPerEvent },
    eventsPerSecond: Math.round(events / seconds),
    triggerEvaluationsPerSecond: Math.round((events * TRIGGERS) / seconds),
    conditionChecksPerSecond: Math.round((events * TRIGGERS * CONDITIONS) / seconds),
    latencyMicroseconds: { p50: +percentile(samples, 50).toFixed(1), p99: +percentile(samples, 99).toFixed(1) },
    memory: { rssMB: +(mem.rss / 2 ** 20).toFixed(1), heapUsedMB: +(mem.heapUsed / 2 ** 20).toFixed(1) },
  });
}
