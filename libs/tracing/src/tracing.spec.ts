import { ROOT_CONTEXT, context, createContextKey, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '@triggers/logging';
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent } from './trace-context';
import { startTracing, stopTracing } from './sdk';
import { SpanKind, Tracing, traceContextOf } from './tracing';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C traceparent', () => {
  it('reads a valid header and writes it back', () => {
    expect(parseTraceparent(PARENT, 'vendor=x')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
      tracestate: 'vendor=x',
    });
    expect(formatTraceparent(parseTraceparent(PARENT)!)).toBe(PARENT);
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')!.sampled).toBe(false);
  });

  it.each([
    ['absent', undefined],
    ['not hex', '00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01'],
    ['zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['zero span id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['version 00 with more fields', `${PARENT}-extra`],
    ['upper case', PARENT.toUpperCase()],
  ])('refuses %s', (_, value) => expect(parseTraceparent(value)).toBeNull());

  it('makes ids of the right shape, never all zero, all different', () => {
    const traces = new Set(Array.from({ length: 2000 }, newTraceId));
    const spans = new Set(Array.from({ length: 2000 }, newSpanId));
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
    for (const t of traces) expect(t).toMatch(/^[0-9a-f]{32}$/);
    for (const s of spans) expect(s).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('Tracing with the SDK off', () => {
  const tracing = new Tracing(false);

  it('passes the parent trace on under a new span id, keeping its sampling and tracestate', () => {
    const span = tracing.startSpan('match', { parent: { traceparent: PARENT, tracestate: 'vendor=x' } });
    expect(span.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.spanId).not.toBe('00f067aa0ba902b7');
    expect(span.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span.spanId}-01`);
    expect(span.headers()).toEqual({ traceparent: span.traceparent, tracestate: 'vendor=x' });
  });

  it('starts a new, unsampled trace without a valid parent', () => {
    const span = tracing.startSpan('match', { parent: { traceparent: 'garbage' } });
    expect(span.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(traceContextOf({ traceparent: Buffer.from(span.traceparent) })).toMatchObject({ traceId: span.traceId, spanId: span.spanId });
  });
});

describe('Tracing with the SDK on', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
  });

  it('records spans as children of the remote parent, and passes each on as the next parent', () => {
    const tracing = new Tracing(true);
    const match = tracing.startSpan('match agent.wrap', { parent: { traceparent: PARENT }, attributes: { 'triggers.tenant_id': 'acme' } });
    const attempt = tracing.startSpan('POST', { kind: SpanKind.CLIENT, parent: match.headers() });
    attempt.fail('503', 'HTTP 503');
    attempt.end();
    match.end();
    const [a, m] = exporter.getFinishedSpans();
    expect(m.name).toBe('match agent.wrap');
    expect(m.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(m.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(m.attributes['triggers.tenant_id']).toBe('acme');
    expect(a.parentSpanContext?.spanId).toBe(match.spanId);
    expect(a.kind).toBe(SpanKind.CLIENT);
    expect(a.attributes['error.type']).toBe('503');
    expect(attempt.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${a.spanContext().spanId}-01`);
  });

  it('gives the log lines about a span its trace_id and span_id, across awaits, and none with tracing off', async () => {
    const lines: string[] = [];
    const logger = createLogger({ app: 'test', destination: { write: (l: string) => void lines.push(l) } as never });
    const span = new Tracing(true).startSpan('work');
    await Promise.resolve();
    logger.info(span.logFields(), 'about the span');
    logger.info('about nothing traced');
    span.end();
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'about the span', trace_id: span.traceId, span_id: span.spanId });
    expect(JSON.parse(lines[1]).trace_id).toBeUndefined();
    expect(new Tracing(false).startSpan('work').logFields()).toEqual({});
  });
});

describe('startTracing', () => {
  it('registers no context manager: no async hooks slow the process, and every span names its parent', async () => {
    await startTracing('test', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    try {
      const key = createContextKey('probe');
      // With AsyncLocalStorage registered, the value set here would be the active one inside.
      expect(context.with(ROOT_CONTEXT.setValue(key, 1), () => context.active().getValue(key))).toBeUndefined();
      expect(new Tracing(true).startSpan('work').recording).toBe(true);
    } finally {
      await stopTracing();
    }
  });
});
