import { randomFillSync } from 'node:crypto';

/** A W3C trace context (https://www.w3.org/TR/trace-context/): what `traceparent` and `tracestate` carry. */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  traceId: string;
  /** 16 lower-case hex digits, not all zero: the span that is the parent of whatever follows. */
  spanId: string;
  /** Whether the caller sampled the trace (`traceparent` flags bit 0). */
  sampled: boolean;
  /** The vendor entries, passed on unchanged. */
  tracestate?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Reads a `traceparent` header value; null when it is absent or invalid (then a new trace is
 * started, as the W3C recommendation says). Versions above 00 are read by their 00 fields.
 */
export function parseTraceparent(value: string | null | undefined, tracestate?: string | null): TraceContext | null {
  if (!value) return null;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags] = m;
  if (version === 'ff' || (version === '00' && value.trim().length !== 55) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1, ...(tracestate ? { tracestate } : {}) };
}

/** The `traceparent` value of a context. */
export function formatTraceparent(c: Pick<TraceContext, 'traceId' | 'spanId' | 'sampled'>): string {
  return `00-${c.traceId}-${c.spanId}-${c.sampled ? '01' : '00'}`;
}

// Ids come from one pool of random bytes, refilled when used up: one syscall per 512 ids.
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return /^0+$/.test(hex) ? randomHex(bytes) : hex;
}

/** A new random trace id. */
export const newTraceId = (): string => randomHex(16);
/** A new random span id. */
export const newSpanId = (): string => randomHex(8);
