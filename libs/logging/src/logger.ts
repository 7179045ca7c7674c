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

/**
 * One structured JSON logger per process. Lines about a Kafka message carry topic, partition,
 * offset, tenantId and correlationId as fields, so a person can grep
 * one event's path through every app; lines about a traced span's work carry its `trace_id`
 * and `span_id` (`TraceSpan.logFields()`).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: options.app, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
