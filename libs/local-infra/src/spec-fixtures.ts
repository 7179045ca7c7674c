import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventType } from '@triggers/contracts';
import { specDir } from './repo';

/** One of the spec's payload examples (`../shared/spec/payloads/*.json`). */
export interface SpecPayload {
  file: string;
  /** The file's text exactly as written. */
  text: string;
  event: { type: EventType; payload: Record<string, unknown> };
}

/** Every payload example of the spec, by file name order. */
export function specPayloads(): SpecPayload[] {
  const dir = join(specDir(), 'payloads');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return { file, text, event: JSON.parse(text) };
    });
}

/** One payload example by file name (`agent-wrap-inbound.json`). */
export function specPayload(file: string): SpecPayload {
  const found = specPayloads().find((p) => p.file === file);
  if (!found) throw new Error(`no spec payload ${file}`);
  return found;
}

/** The spec's trigger parameter examples (`../shared/spec/triggers/*.json`), by file name. */
export function specTriggerParameters(): Record<string, { text: string; parameters: unknown }> {
  const dir = join(specDir(), 'triggers');
  const out: Record<string, { text: string; parameters: unknown }> = {};
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    out[file] = { text, parameters: JSON.parse(text) };
  }
  return out;
}
