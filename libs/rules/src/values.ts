/**
 * How condition values compare. Payload values are mostly strings holding numbers
 * (`"totalAttempts": "1"`) or timestamps in a few formats, and a condition's value is always a
 * string, so comparison looks at what both sides hold:
 *  - both finite numbers → numeric (`"10" > "9"`);
 *  - both timestamps → chronological;
 *  - otherwise `=` compares the strings exactly, and `<`, `>`, `<=`, `>=` are false.
 * Booleans equal "true"/"false"; null equals only "null".
 */

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// 2024-05-03T06:41:08+0000, 2024-05-03T07:20:23+00:00, 2024-05-03 07:15:14 (no zone: UTC), 2024-05-03
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** The number a string or number holds, or undefined. */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (!NUMBER.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Milliseconds since the epoch of a timestamp string in one of the spec's formats, or undefined. */
export function asTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TIMESTAMP.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', zone] = m;
  let t = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, +ms.padEnd(3, '0'));
  if (Number.isNaN(t)) return undefined;
  const check = new Date(t);
  if (check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d) return undefined;
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return t;
}

/** A condition value prepared once, so every evaluation only compares. */
export interface PreparedValue {
  text: string;
  number?: number;
  timestamp?: number;
}

/** Parses a condition value once at compile time. */
export function prepareValue(text: string): PreparedValue {
  return { text, number: asNumber(text), timestamp: asTimestamp(text) };
}

/**
 * A payload value read once for many comparisons: its number and timestamp readings are parsed
 * at most once, however many triggers and `in` items compare against it.
 */
export class ActualValue {
  private num?: number | null;
  private ts?: number | null;

  constructor(readonly raw: unknown) {}

  get number(): number | undefined {
    if (this.num === undefined) this.num = asNumber(this.raw) ?? null;
    return this.num ?? undefined;
  }

  get timestamp(): number | undefined {
    if (this.ts === undefined) this.ts = asTimestamp(this.raw) ?? null;
    return this.ts ?? undefined;
  }
}

const asActual = (v: unknown) => (v instanceof ActualValue ? v : new ActualValue(v));

/**
 * -1, 0 or 1 when `actual` and `expected` are both numbers or both timestamps; undefined when
 * they cannot be ordered.
 */
export function order(actual: unknown, expected: PreparedValue): number | undefined {
  const a = asActual(actual);
  if (expected.number !== undefined) {
    const n = a.number;
    if (n !== undefined) return Math.sign(n - expected.number);
  }
  if (expected.timestamp !== undefined) {
    const t = a.timestamp;
    if (t !== undefined) return Math.sign(t - expected.timestamp);
  }
  return undefined;
}

/** The `=` of the spec's operators. */
export function equals(actual: unknown, expected: PreparedValue): boolean {
  const a = asActual(actual);
  const raw = a.raw;
  if (raw === null) return expected.text === 'null';
  if (typeof raw === 'boolean') return expected.text === String(raw);
  if (typeof raw !== 'string' && typeof raw !== 'number') return false;
  // A plain text value (neither number nor timestamp) can only equal the same text.
  if (expected.number === undefined && expected.timestamp === undefined) return String(raw) === expected.text;
  const o = order(a, expected);
  if (o !== undefined) return o === 0;
  return String(raw) === expected.text;
}
