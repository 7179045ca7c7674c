import { ApiError } from './api-errors';

/** A page size from the query: default 50, 1 to 200. */
export function parseLimit(raw: unknown, fallback = 50): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 200)
    throw new ApiError(400, 'invalid query', [{ path: 'limit', message: 'limit must be a whole number from 1 to 200' }]);
  return n;
}

/** `true`/`false` from the query, or undefined. */
export function parseBool(raw: unknown, name: string): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ApiError(400, 'invalid query', [{ path: name, message: `${name} must be true or false` }]);
}

/** An ISO date from the query, or undefined. */
export function parseDate(raw: unknown, name: string): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const d = new Date(String(raw));
  if (Number.isNaN(d.getTime()))
    throw new ApiError(400, 'invalid query', [{ path: name, message: `${name} must be an ISO 8601 date, e.g. 2024-05-03T06:41:08Z` }]);
  return d;
}

/**
 * The version a write is based on: `If-Match` as a version (`3`) or its ETag (`"3"`, `W/"3"`), or
 * else the body's `version` (a whole number); undefined when neither is given (an unconditional
 * write). Anything else (`""`, `0x1`, `1e0`, `true`, `[1]`, `*`) is a 400, never read as a version.
 */
export function expectedVersion(ifMatch: unknown, bodyVersion: unknown): number | undefined {
  const invalid = (path: string) => new ApiError(400, 'invalid version', [{ path, message: 'the version must be a whole number such as 3, or its ETag "3"' }]);
  if (ifMatch !== undefined) {
    const m = typeof ifMatch === 'string' ? /^(?:W\/)?(?:"([1-9]\d{0,14})"|([1-9]\d{0,14}))$/.exec(ifMatch.trim()) : null;
    if (!m) throw invalid('If-Match');
    return Number(m[1] ?? m[2]);
  }
  if (bodyVersion === undefined || bodyVersion === null) return undefined;
  if (typeof bodyVersion !== 'number' || !Number.isSafeInteger(bodyVersion) || bodyVersion < 1) throw invalid('version');
  return bodyVersion;
}
