/** What the command-line tools share: usage errors (exit 2), times, header text, the exit code. */
import type { IHeaders } from 'kafkajs';

/** Bad arguments or input: the message says what to pass instead; exit code 2. */
export class UsageError extends Error {}

/** An ISO time given as `flag`, or undefined when absent. */
export function parseTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time.getTime())) {
    throw new UsageError(`${flag} must be an ISO time such as 2026-11-29T10:00:00Z, got "${value}"`);
  }
  return time;
}

/** A header's value as text (the first, when repeated), or null when absent. */
export function headerText(headers: IHeaders | undefined, name: string): string | null {
  const value = headers?.[name];
  if (value === undefined || value === null) return null;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? null : first.toString();
}

/**
 * Runs a tool's main: errors print as one `error:` line (the usage too when `usage` is given);
 * the exit code is 2 for what the caller can fix (`isUsage`), 1 otherwise.
 */
export function runCli(main: () => Promise<void>, opts: { usage?: string; isUsage?: (err: unknown) => boolean; describe?: (err: Error) => string } = {}): void {
  main().catch((err: Error) => {
    const usage = err instanceof UsageError || (opts.isUsage?.(err) ?? false);
    process.stderr.write(`error: ${opts.describe?.(err) ?? err.message}\n${err instanceof UsageError && opts.usage ? opts.usage : ''}`);
    process.exit(usage ? 2 : 1);
  });
}
