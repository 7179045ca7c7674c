import { execFile } from 'node:child_process';
import { IncomingMessage, Server, createServer } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EVENT_LOGS_COLLECTION } from '@triggers/mongo';
import { parseTraceparent } from '@triggers/tracing';
import { repoRoot, specDir, useHarness, useTestContext, waitFor } from '@triggers/testing';

const run = promisify(execFile);

/** One span as an OTLP/HTTP JSON export carries it, with the service that sent it. */
interface ExportedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };

/** Ids arrive as hex (the JSON encoding) or base64 (a protobuf-style JSON): read both. */
const hexId = (id: string | undefined) => (!id ? '' : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));
const valueOf = (v: OtlpValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attributes = (list: OtlpAttribute[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

/** A local OTLP/HTTP receiver: what the apps' exporters send to `OTEL_EXPORTER_OTLP_ENDPOINT`. */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: {
            resource: { attributes: OtlpAttribute[] };
            scopeSpans: { spans: (Omit<ExportedSpan, 'service' | 'attributes'> & { attributes: OtlpAttribute[] })[] }[];
          }[];
        };
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributes(rs.resource.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                service,
                name: s.name,
                kind: s.kind,
                traceId: hexId(s.traceId),
                spanId: hexId(s.spanId),
                parentSpanId: hexId(s.parentSpanId),
                attributes: attributes(s.attributes),
              });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * One event followed from the producer to the tenant's endpoint: the producer's traceparent on
 * the event, the matcher's match span under it, the dispatcher's attempt span under that, the
 * webhook request carrying the attempt as its parent, and the log records carrying the trace id.
 */
describe('tracing across the pipeline', () => {
  const ctx = useTestContext({ topics: true });
  const h = useHarness(ctx);
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let tenantId: string;
  let triggerId: string;

  beforeAll(async () => {
    collector = await startCollector();
    ({ tenantId, triggerId } = await h.driver.webhookTrigger(`${h.receiver.url}/traced`));
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_BSP_SCHEDULE_DELAY: '100' };
    await Promise.all([h.start('matcher', otel), h.start('webhook-dispatcher', { ...otel, WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' }), h.start('log-sink', otel)]);
  }, 120_000);

  afterAll(() => collector?.close());

  /** Publishes the spec's agent.wrap with `npm run -s produce`; returns its event id. */
  async function produce(extra: string[] = []): Promise<string> {
    const { stdout } = await run(
      'npm',
      ['run', '-s', 'produce', '--', '--tenant', tenantId, '--file', join(specDir(), 'payloads/agent-wrap-inbound.json'), ...extra],
      { cwd: repoRoot(), env: { ...process.env, ...ctx().env } },
    );
    return /sent agent\.wrap event ([0-9a-f-]{36})/.exec(stdout)![1];
  }

  const logsOf = async (eventId: string) => {
    const { db } = await ctx().mongo();
    return db.collection<{ step: string; traceId: string | null }>(EVENT_LOGS_COLLECTION).find({ tenantId, eventId }).toArray();
  };

  it('continues the producer trace: produce → match → attempt, and the receiver sees the attempt as its parent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const produceSpan = '00f067aa0ba902b7';
    const eventId = await produce(['--traceparent', `00-${traceId}-${produceSpan}-01`]);

    const [webhook] = await h.receiver.waitFor(1, { timeoutMs: 30_000, where: (r) => r.path === '/traced' && JSON.parse(r.body).payload !== undefined });
    const sent = parseTraceparent(webhook.headers.traceparent)!;
    expect(sent).toMatchObject({ traceId, sampled: true });

    let match: ExportedSpan | undefined;
    let attempt: ExportedSpan | undefined;
    await waitFor(
      () => {
        match = collector.spans.find((s) => s.traceId === traceId && s.name === 'match agent.wrap');
        attempt = collector.spans.find((s) => s.traceId === traceId && s.name === 'POST');
        return !!match && !!attempt;
      },
      { timeoutMs: 30_000, description: 'the match and attempt spans exported' },
    );
    expect(match).toMatchObject({ service: 'triggers-matcher', parentSpanId: produceSpan });
    expect(match!.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.message.id': eventId, 'triggers.matched': true, 'triggers.webhooks': 1 });
    expect(attempt).toMatchObject({ service: 'triggers-webhook-dispatcher', kind: 3, parentSpanId: match!.spanId, spanId: sent.spanId });
    expect(attempt!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'url.full': `${h.receiver.url}/traced`,
      'triggers.attempt': 1,
      'triggers.origin': 'event',
    });

    await waitFor(async () => (await logsOf(eventId)).length === 2, { timeoutMs: 30_000, description: 'the matched and delivered records' });
    expect((await logsOf(eventId)).map((r) => [r.step, r.traceId]).sort()).toEqual([
      ['matched', traceId],
      ['webhook.delivered', traceId],
    ]);
    // The log-sink's batch write is traced too, on its own.
    await waitFor(() => collector.spans.some((s) => s.service === 'triggers-log-sink' && s.name === 'insert event_logs'), {
      description: 'the log-sink batch span',
    });
    expect(triggerId).toBeTruthy();
  }, 90_000);

  it('starts a trace for an event that comes without one, and carries it the same way', async () => {
    const before = h.receiver.received.length;
    const eventId = await produce();
    const [webhook] = await h.receiver.waitFor(before + 1, { timeoutMs: 30_000 }).then((all) => all.slice(before));
    const sent = parseTraceparent(webhook.headers.traceparent)!;
    expect(sent).not.toBeNull();
    await waitFor(async () => (await logsOf(eventId)).length === 2, { timeoutMs: 30_000, description: 'the records' });
    expect(new Set((await logsOf(eventId)).map((r) => r.traceId))).toEqual(new Set([sent.traceId]));
    await waitFor(() => collector.spans.some((s) => s.traceId === sent.traceId && s.name === 'match agent.wrap' && s.parentSpanId === ''), {
      timeoutMs: 30_000,
      description: 'a root match span',
    });
  }, 60_000);

  it('refuses a malformed --traceparent with a clear message', async () => {
    const failed = await run(
      'npm',
      ['run', '-s', 'produce', '--', '--tenant', tenantId, '--file', join(specDir(), 'payloads/agent-wrap-inbound.json'), '--traceparent', 'abc'],
      {
        cwd: repoRoot(),
        env: { ...process.env, ...ctx().env },
      },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('--traceparent must be a W3C traceparent') });
  });
});
