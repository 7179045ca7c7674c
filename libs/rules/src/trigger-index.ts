import type { EventType } from '@triggers/contracts';
import { triggerKey } from '@triggers/contracts';
import type { CompiledTrigger } from './compile-trigger';
import { MISSING, ReadCache, compileTrigger, readPath, shared } from './compile-trigger';
import { resolveReference } from './reference-catalog';
import type { Condition, Trigger } from './trigger.model';
import { ActualValue, asNumber, prepareValue } from './values';

/** A trigger held by the index with its identity. */
export interface IndexedTrigger {
  tenantId: string;
  triggerId: string;
  version: number;
  compiled: CompiledTrigger;
}

/** A held trigger with its place in its bucket's order, so candidates come out in that order. */
interface Entry extends IndexedTrigger {
  seq: number;
  /** Where the trigger is filed: under `path`, once per key its equality condition can meet; none when unindexed. */
  filed?: { path: string; keys: string[] };
}

/**
 * One tenant's triggers of one event type. Enabled triggers with an equality condition (`=`, or
 * `in` on its values) are filed under that condition's payload path by the value it needs; an
 * event then judges only the triggers its values can meet, plus the unfiled ones.
 */
interface Bucket {
  /** Every trigger, enabled or not, in the order they came. */
  all: Entry[];
  unfiled: Set<Entry>;
  /** By key, the one trigger filed under it, or several: most keys have one (a Set each was 4 of 25 MB for 10,000 triggers). */
  byPath: Map<string, { segments: readonly string[]; byKey: Map<string, Entry | Entry[]> }>;
}

/**
 * The keys under which a condition value is met by `=` (see values.ts): a number by its value
 * (`"53"`, `53` and `"53.0"` are all `n:53`), plain text by itself. A timestamp value compares
 * chronologically across formats, so it is not filed (undefined).
 */
function expectedKey(text: string): string | undefined {
  const v = prepareValue(text);
  if (v.number !== undefined) return `n:${v.number}`;
  if (v.timestamp !== undefined) return undefined;
  return `s:${text}`;
}

/** The keys a payload value can meet: its number, and its text (null and booleans as `=` reads them). */
function actualKeys(raw: unknown, out: string[]): void {
  if (raw === null) {
    out.push('s:null');
    return;
  }
  if (typeof raw === 'boolean') {
    out.push(`s:${raw}`);
    return;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') return;
  const n = asNumber(raw);
  if (n !== undefined) out.push(`n:${n}`);
  out.push(`s:${String(raw)}`);
}

/**
 * The condition a trigger is filed by: its most selective equality condition (`=` first, then
 * the `in` with the fewest values) whose every value can be filed; undefined when it has none.
 */
function filingOf(trigger: Trigger): { path: string; keys: string[] } | undefined {
  let best: { condition: Condition; keys: string[] } | undefined;
  for (const condition of trigger.conditions) {
    if (condition.operator !== '=' && condition.operator !== 'in') continue;
    const values =
      condition.operator === '='
        ? [condition.value]
        : condition.value
            .split(',')
            .map((v) => v.trim())
            .filter((v) => v !== '');
    const keys = values.map(expectedKey);
    if (keys.length === 0 || keys.some((k) => k === undefined)) continue;
    if (!best || keys.length < best.keys.length) best = { condition, keys: [...new Set(keys as string[])] };
  }
  return best && { path: shared(resolveReference(trigger.eventType as EventType, best.condition.reference)), keys: best.keys };
}

/**
 * Triggers by tenant and event type, compiled once. Matching an event looks only at its own
 * tenant's triggers of its type, so one tenant's events never meet another tenant's triggers, and
 * among those only at the ones its values can meet (see {@link Bucket}): the cost stays flat as a
 * tenant adds triggers on their own campaigns, wrap codes or lists. Changes replace a trigger only
 * with a newer version, so a replayed older copy is ignored.
 */
export class TriggerIndex {
  private readonly byTenant = new Map<string, Map<string, Bucket>>();
  private readonly byId = new Map<string, Entry>();
  private seq = 0;

  /** Adds or replaces a trigger; returns false when `version` is older than the one held. */
  upsert(tenantId: string, triggerId: string, version: number, trigger: Trigger): boolean {
    const key = triggerKey(tenantId, triggerId);
    const held = this.byId.get(key);
    if (held && held.version > version) return false;
    if (held) this.detach(held);
    const entry: Entry = {
      tenantId,
      triggerId,
      version,
      compiled: compileTrigger(trigger),
      seq: this.seq++,
      filed: trigger.enabled ? filingOf(trigger) : undefined,
    };
    this.byId.set(key, entry);
    let types = this.byTenant.get(tenantId);
    if (!types) this.byTenant.set(tenantId, (types = new Map()));
    let bucket = types.get(trigger.eventType);
    if (!bucket) types.set(trigger.eventType, (bucket = { all: [], unfiled: new Set(), byPath: new Map() }));
    bucket.all = [...bucket.all, entry];
    if (!trigger.enabled) return true;
    if (!entry.filed) {
      bucket.unfiled.add(entry);
      return true;
    }
    let byKey = bucket.byPath.get(entry.filed.path);
    if (!byKey) bucket.byPath.set(entry.filed.path, (byKey = { segments: entry.filed.path.split('.'), byKey: new Map() }));
    for (const k of entry.filed.keys) {
      const filed = byKey.byKey.get(k);
      if (filed === undefined) byKey.byKey.set(k, entry);
      else if (Array.isArray(filed)) filed.push(entry);
      else byKey.byKey.set(k, [filed, entry]);
    }
    return true;
  }

  /** Removes a trigger (a tombstone on the config topic). */
  remove(tenantId: string, triggerId: string): boolean {
    const key = triggerKey(tenantId, triggerId);
    const held = this.byId.get(key);
    if (!held) return false;
    this.detach(held);
    this.byId.delete(key);
    return true;
  }

  private detach(entry: Entry) {
    const types = this.byTenant.get(entry.tenantId);
    const type = entry.compiled.trigger.eventType;
    const bucket = types?.get(type);
    if (!types || !bucket) return;
    bucket.all = bucket.all.filter((e) => e !== entry);
    bucket.unfiled.delete(entry);
    if (entry.filed) {
      const byKey = bucket.byPath.get(entry.filed.path);
      for (const k of entry.filed.keys) {
        const filed = byKey?.byKey.get(k);
        if (filed === entry) byKey!.byKey.delete(k);
        else if (Array.isArray(filed)) {
          const rest = filed.filter((e) => e !== entry);
          byKey!.byKey.set(k, rest.length === 1 ? rest[0] : rest);
        }
      }
      if (byKey?.byKey.size === 0) bucket.byPath.delete(entry.filed.path);
    }
    if (bucket.all.length === 0) types.delete(type);
    if (types.size === 0) this.byTenant.delete(entry.tenantId);
  }

  /** The tenant's enabled triggers of `eventType` whose conditions hold for `payload`, in the order they came. */
  match(tenantId: string, eventType: string, payload: unknown): IndexedTrigger[] {
    const bucket = this.byTenant.get(tenantId)?.get(eventType);
    if (!bucket) return [];
    const cache: ReadCache = new Map();
    const candidates: Entry[] = [...bucket.unfiled];
    const keys: string[] = [];
    for (const [path, { segments, byKey }] of bucket.byPath) {
      const raw = readPath(payload, segments);
      if (raw === MISSING) {
        cache.set(path, MISSING);
        continue;
      }
      cache.set(path, new ActualValue(raw));
      keys.length = 0;
      actualKeys(raw, keys);
      for (const k of keys) {
        const filed = byKey.get(k);
        if (filed === undefined) continue;
        if (Array.isArray(filed)) for (const e of filed) candidates.push(e);
        else candidates.push(filed);
      }
    }
    if (candidates.length > 1) candidates.sort((a, b) => a.seq - b.seq);
    const out: IndexedTrigger[] = [];
    let last: Entry | undefined;
    for (const e of candidates) {
      if (e === last) continue;
      last = e;
      if (e.compiled.matches(payload, cache)) out.push(e);
    }
    return out;
  }

  /** The triggers a tenant has for one event type (enabled or not). */
  triggersOf(tenantId: string, eventType: string): readonly IndexedTrigger[] {
    return this.byTenant.get(tenantId)?.get(eventType)?.all ?? [];
  }

  get size(): number {
    return this.byId.size;
  }
}
