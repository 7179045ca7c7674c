import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './config-error';

/** The process environment, or any map of variables (tests pass their own). */
export type Env = Record<string, string | undefined>;

/** Every variable a shape has been parsed with in this process: the README's table is checked against it. */
export const VARIABLES_READ = new Set<string>();

/**
 * Parses variables with a zod shape whose keys are the variable names. Empty strings count as
 * unset, so `FOO=` falls back to the default rather than failing a number parse.
 * @throws ConfigError naming every bad variable.
 */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: Env): z.infer<z.ZodObject<S>> {
  const cleaned: Env = {};
  for (const key of Object.keys(shape)) {
    VARIABLES_READ.add(key);
    const value = env[key];
    cleaned[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '?'),
        message: describeIssue(issue, cleaned[String(issue.path[0])]),
      })),
    );
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, raw: string | undefined): string {
  const shown = raw === undefined ? 'unset' : `got "${raw}"`;
  return `${issue.message} (${shown})`;
}

/** A positive whole number, given as text. */
export const positiveInt = () => z.coerce.number().int('must be a whole number').positive('must be greater than 0');

/** A non-negative whole number of milliseconds, given as text. */
export const durationMs = () => z.coerce.number().int('must be a whole number of milliseconds').min(0, 'must not be negative');

/** A TCP port. */
export const port = () => z.coerce.number().int().min(0).max(65535, 'must be a port (0-65535)');

/** `true/false/1/0/yes/no`. */
export const bool = () =>
  z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** An absolute http(s) URL. */
export const httpUrl = () => z.string().refine((v) => /^https?:\/\/[^\s/]+/.test(v), 'must be an http(s) URL');

/** A comma-separated list of non-empty items. */
export const csv = () =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0, 'must list at least one item');

/** A comma-separated list of CIDR blocks (`127.0.0.0/8,::1/128`). */
export const cidrList = () =>
  csv().refine(
    (list) =>
      list.every((cidr) => {
        const [address, prefix, ...rest] = cidr.split('/');
        const family = isIP(address);
        const bits = Number(prefix);
        return rest.length === 0 && family !== 0 && /^\d+$/.test(prefix ?? '') && bits <= (family === 4 ? 32 : 128);
      }),
    'must be comma-separated CIDR blocks such as 127.0.0.0/8,::1/128',
  );
