import { context, trace } from '@opentelemetry/api';
import pino, { Logger, LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** The app or tool writing the lines, carried on every line as `app`. */
  app: string;
  /** pino level; `silent` turns logging off (tests). */
  level?: LevelWithSilent;
  /** Where lines go; defaults to stdout. */
  destination?: pino.DestinationStream;
}

/** `trace_id` and `span_id` of the span active when a line is written (tracing on), else nothing. */
function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}

/**
 * One structured JSON logger per process. Lines about a Kafka message carry topic, partition,
 * offset, tenantId and correlationId as fields, so a person can grep
 * one event's path through every app; lines written inside a traced span carry its
 * `trace_id` and `span_id`.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: options.app, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    options.destination,
  );
}
