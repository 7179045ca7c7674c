import { hash } from 'node:crypto';
import type { LogRecord } from './messages';

/**
 * A deterministic log id from the parts that make a step unique (event, trigger, command, step,
 * attempt...): writing the same step twice yields the same id, so the log-sink stores it once.
 */
export function logIdFor(...parts: (string | number | null | undefined)[]): string {
  let text = '';
  for (let i = 0; i < parts.length; i++) text += (i > 0 ? '\u0000' : '') + (parts[i] ?? '');
  // The one-shot digest: the same SHA-256 as a Hash object, at half its cost (two ids per event, more per delivery).
  return `log_${hash('sha256', text, 'hex').slice(0, 32)}`;
}

/** A log record with the optional fields defaulted, its fields always in one order (one object shape for the encoder). */
export function newLogRecord(r: Pick<LogRecord, 'logId' | 'tenantId' | 'step' | 'status' | 'time'> & Partial<LogRecord>): LogRecord {
  return {
    logId: r.logId,
    tenantId: r.tenantId,
    triggerId: r.triggerId ?? null,
    eventId: r.eventId ?? null,
    eventType: r.eventType ?? null,
    commandId: r.commandId ?? null,
    step: r.step,
    status: r.status,
    time: r.time,
    attempt: r.attempt ?? null,
    origin: r.origin ?? 'event',
    message: r.message ?? null,
    http: r.http ?? null,
    nextDueAt: r.nextDueAt ?? null,
    traceId: r.traceId ?? null,
  };
}
