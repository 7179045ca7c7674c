import { ApiError } from '../services/api-errors';

/** A page size from the query: default 50, 1 to 200. */
export function parseLimit(raw: unknown, fallback = 50): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new ApiError(400, 'invalid query', [{ path: 'limit', message: 'limit must be a whole number from 1 to 200' }]);
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
  if (Number.isNaN(d.getTime())) throw new ApiError(400, 'invalid query', [{ path: name, message: `${name} must be an ISO 8601 date, e.g. 2024-05-03T06:41:08Z` }]);
  return d;
}

/**
 * The version a write is based on, from `If-Match` (`3`, `"3"` or `W/"3"`) or the body's
 * `version`; undefined when neither is given (an unconditional write).
 */
export function expectedVersion(ifMatch: unknown, bodyVersion: unknown): number | undefined {
  const raw = typeof ifMatch === 'string' && ifMatch !== '' ? ifMatch.replace(/^W\//, '').replace(/"/g, '') : bodyVersion;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ApiError(400, 'invalid version', [{ path: 'If-Match', message: 'the version must be a whole number such as 3' }]);
  return n;
}
