import { ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, TraceFlags, Tracer, createTraceState, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { TraceContext, formatTraceparent, newSpanId, newTraceId, parseTraceparent } from './trace-context';

export { SpanKind } from '@opentelemetry/api';

/** One unit of work in a trace: what is passed on downstream (`traceparent`), and its span when tracing is on. */
export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Whether the span is recorded (sampled, with tracing on): attributes are worth building only then. */
  readonly recording: boolean;
  /** The `traceparent` to pass on: this span as the parent of what follows. */
  readonly traceparent: string;
  readonly tracestate?: string;
  /** Kafka headers carrying this span's context. */
  headers(): Record<string, string>;
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed (`error.type` set to `errorType`). */
  fail(errorType: string, message?: string): void;
  /**
   * `trace_id` and `span_id` for the log lines about this span's work (tracing on), else none.
   * Passed explicitly: an ambient context would need async hooks, which slow every promise of
   * the process on this Node.
   */
  logFields(): { trace_id?: string; span_id?: string };
  end(): void;
}

/** What a span is started with. */
export interface SpanOptions {
  kind?: SpanKind;
  /** The context it continues: a `traceparent` header (and `tracestate`), or Kafka headers holding them. */
  parent?: IHeaders | TraceContext | null;
  /** Its attributes; a function is called only for a span that is recorded (most are not, when sampling). */
  attributes?: Attributes | (() => Attributes);
}

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
};

/** OpenTelemetry's messaging attributes for processing what was read from a Kafka partition (at `offset`). */
export function kafkaProcessAttributes(source: { topic: string; partition: number }, offset?: string): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': source.topic,
    'messaging.destination.partition.id': String(source.partition),
    ...(offset !== undefined ? { 'messaging.kafka.offset': Number(offset) } : {}),
  };
}

/** The trace context Kafka headers carry, or null. */
export function traceContextOf(headers: IHeaders | undefined): TraceContext | null {
  return parseTraceparent(header(headers, 'traceparent'), header(headers, 'tracestate'));
}

const isContext = (p: SpanOptions['parent']): p is TraceContext => !!p && typeof (p as TraceContext).traceId === 'string';

function headersOf(traceparent: string, tracestate: string | undefined): Record<string, string> {
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

const NO_LOG_FIELDS: { trace_id?: string; span_id?: string } = Object.freeze({});

/** A span of a trace that is not recorded (tracing off): ids only, so context still flows downstream. */
class PassedOnSpan implements TraceSpan {
  readonly recording = false;
  readonly traceparent: string;
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    sampled: boolean,
    readonly tracestate?: string,
  ) {
    this.traceparent = formatTraceparent({ traceId, spanId, sampled });
  }
  headers() {
    return headersOf(this.traceparent, this.tracestate);
  }
  setAttributes(): void {}
  fail(): void {}
  logFields() {
    return NO_LOG_FIELDS;
  }
  end(): void {}
}

/** A span of the OpenTelemetry SDK (recorded when sampled). */
class SdkSpan implements TraceSpan {
  readonly recording: boolean;
  constructor(private readonly span: Span) {
    this.recording = span.isRecording();
  }
  get traceId(): string {
    return this.span.spanContext().traceId;
  }
  get spanId(): string {
    return this.span.spanContext().spanId;
  }
  // Made only when asked for: most spans of unmatched events pass nothing on.
  get tracestate(): string | undefined {
    return this.span.spanContext().traceState?.serialize() || undefined;
  }
  get traceparent(): string {
    const c = this.span.spanContext();
    return formatTraceparent({ traceId: c.traceId, spanId: c.spanId, sampled: (c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED });
  }
  headers() {
    return headersOf(this.traceparent, this.tracestate);
  }
  setAttributes(attributes: Attributes): void {
    this.span.setAttributes(attributes);
  }
  fail(errorType: string, message?: string): void {
    this.span.setAttribute('error.type', errorType);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  logFields() {
    const c = this.span.spanContext();
    return { trace_id: c.traceId, span_id: c.spanId };
  }
  end(): void {
    this.span.end();
  }
}

/**
 * Trace context and spans for one process. W3C trace context always flows (an event's
 * `traceparent`, or a new trace, is carried to the commands, the webhook request and the log
 * records); spans are recorded and exported only when the OpenTelemetry SDK runs
 * ({@link startTracing}: `OTEL_EXPORTER_OTLP_ENDPOINT` set), sampled by `OTEL_TRACES_SAMPLER`.
 */
export class Tracing {
  private readonly tracer?: Tracer;

  constructor(readonly enabled: boolean) {
    if (enabled) this.tracer = trace.getTracer('triggers');
  }

  /** Starts a span continuing `parent` (a new trace when it has no valid context). */
  startSpan(name: string, options: SpanOptions = {}): TraceSpan {
    const parent = isContext(options.parent) ? options.parent : options.parent ? traceContextOf(options.parent) : null;
    if (!this.tracer) return new PassedOnSpan(parent?.traceId ?? newTraceId(), newSpanId(), parent?.sampled ?? false, parent?.tracestate);
    const parentContext = parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
          isRemote: true,
          ...(parent.tracestate ? { traceState: createTraceState(parent.tracestate) } : {}),
        })
      : ROOT_CONTEXT;
    const span = new SdkSpan(this.tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL }, parentContext));
    if (span.recording && options.attributes) span.setAttributes(typeof options.attributes === 'function' ? options.attributes() : options.attributes);
    return span;
  }
}
