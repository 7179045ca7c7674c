import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventType } from './event-types';
import { findSchemasDir } from './schema-catalog';

const cache = new Map<EventType, { type: EventType; payload: Record<string, unknown> }>();

/**
 * The sample event of a type (`schemas/samples/<type>.json`, the spec's payload examples), used
 * by the API's test send and the demo.
 */
export function sampleEvent(type: EventType): { type: EventType; payload: Record<string, unknown> } {
  let sample = cache.get(type);
  if (!sample) {
    sample = JSON.parse(readFileSync(join(findSchemasDir(), 'samples', `${type}.json`), 'utf8')) as {
      type: EventType;
      payload: Record<string, unknown>;
    };
    cache.set(type, sample);
  }
  return sample;
}
