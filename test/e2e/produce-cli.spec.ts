import { join } from 'node:path';
import { TestContext, readTopic, repoRoot, runNpmScript, specDir, specPayload, useTestContext } from '@triggers/testing';

/** Runs `npm run -s produce -- ...` the way a platform team would, against the test context. */
const produce = (ctx: TestContext, args: string[]) => runNpmScript('produce', args, ctx.env);

describe('the produce CLI', () => {
  const ctx = useTestContext({ topics: true });

  it('publishes a spec payload in the envelope, Avro-encoded, to its type topic', async () => {
    const spec = specPayload('mpiq-attempt.json');
    const result = await produce(ctx(), ['--tenant', 'acme', '--file', join(specDir(), 'payloads/mpiq-attempt.json'), '--count', '3']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sent mpiq\.attempt event [0-9a-f-]{36} for tenant acme/);
    expect(result.stdout).toContain('sent 3 mpiq.attempt event(s)');

    const topic = ctx().config.kafka.topics['events.mpiq.attempt'];
    const messages = await readTopic(ctx().kafka, topic, { expected: 3 });
    expect(messages).toHaveLength(3);
    const decoded = await Promise.all(messages.map((m) => ctx().serde.decode<Record<string, unknown>>(m.value)));
    const ids = new Set(decoded.map((d) => d.value.eventId));
    expect(ids.size).toBe(3);
    for (const d of decoded) {
      expect(d.value.tenantId).toBe('acme');
      expect(JSON.stringify({ type: d.value.type, payload: d.value.payload })).toBe(JSON.stringify(spec.event));
    }
  });

  it('paces events with --rate', async () => {
    const started = Date.now();
    const result = await produce(ctx(), [
      '--tenant',
      'acme',
      '--file',
      join(specDir(), 'payloads/inbound-workflow-abandon.json'),
      '--count',
      '30',
      '--rate',
      '50',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('sent 30 inbound.workflow.abandon event(s)');
    // 30 events at 50/s cannot all leave before 0.6 s: the pacing held them back.
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);
    const topic = ctx().config.kafka.topics['events.inbound.workflow.abandon'];
    expect(await readTopic(ctx().kafka, topic, { expected: 30 })).toHaveLength(30);
  });

  it('refuses an unknown event type, listing the known ones', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/produce-');
    writeFileSync(`${dir}/bad.json`, JSON.stringify({ type: 'agent.wrapped', payload: {} }));
    const result = await produce(ctx(), ['--tenant', 'acme', '--file', `${dir}/bad.json`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown event type "agent.wrapped"');
    expect(result.stderr).toContain('agent.wrap, mpiq.attempt');
  });

  it('refuses a payload that does not fit the schema, naming the field', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/produce-');
    const spec = specPayload('inbound-queue-abandon.json');
    writeFileSync(`${dir}/bad.json`, JSON.stringify({ ...spec.event, payload: { ...spec.event.payload, timeInQueue: 'four' } }));
    const result = await produce(ctx(), ['--tenant', 'acme', '--file', `${dir}/bad.json`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('payload.timeInQueue: expected null or long, got a string "four"');
  });

  it('refuses a file that is not JSON', async () => {
    const result = await produce(ctx(), ['--tenant', 'acme', '--file', join(repoRoot(), 'jest.config.js')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is not valid JSON/);
  });
});
