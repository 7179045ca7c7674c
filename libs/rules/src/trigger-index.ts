import { triggerKey } from '@triggers/contracts';
import type { CompiledTrigger } from './compile-trigger';
import { ReadCache, compileTrigger } from './compile-trigger';
import type { Trigger } from './trigger.model';

/** A trigger held by the index with its identity. */
export interface IndexedTrigger {
  tenantId: string;
  triggerId: string;
  version: number;
  compiled: CompiledTrigger;
}

/**
 * Triggers by tenant and event type, compiled once. Matching an event looks only at its own
 * tenant's triggers of its type, so one tenant's events never meet another tenant's triggers.
 * Changes replace a trigger only with a newer version, so a replayed older copy is ignored.
 */
export class TriggerIndex {
  private readonly byTenant = new Map<string, Map<string, IndexedTrigger[]>>();
  private readonly byId = new Map<string, IndexedTrigger>();

  private static key(tenantId: string, triggerId: string) {
    return triggerKey(tenantId, triggerId);
  }

  /** Adds or replaces a trigger; returns false when `version` is older than the one held. */
  upsert(tenantId: string, triggerId: string, version: number, trigger: Trigger): boolean {
    const key = TriggerIndex.key(tenantId, triggerId);
    const held = this.byId.get(key);
    if (held && held.version > version) return false;
    if (held) this.detach(held);
    const entry: IndexedTrigger = { tenantId, triggerId, version, compiled: compileTrigger(trigger) };
    this.byId.set(key, entry);
    let types = this.byTenant.get(tenantId);
    if (!types) this.byTenant.set(tenantId, (types = new Map()));
    // Lists are replaced, never mutated, so a match in progress keeps a consistent view.
    types.set(trigger.eventType, [...(types.get(trigger.eventType) ?? []), entry]);
    return true;
  }

  /** Removes a trigger (a tombstone on the config topic). */
  remove(tenantId: string, triggerId: string): boolean {
    const held = this.byId.get(TriggerIndex.key(tenantId, triggerId));
    if (!held) return false;
    this.detach(held);
    this.byId.delete(TriggerIndex.key(tenantId, triggerId));
    return true;
  }

  private detach(entry: IndexedTrigger) {
    const types = this.byTenant.get(entry.tenantId);
    const type = entry.compiled.trigger.eventType;
    const list = types?.get(type);
    if (!types || !list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) types.set(type, rest);
    else types.delete(type);
    if (types.size === 0) this.byTenant.delete(entry.tenantId);
  }

  /** The tenant's enabled triggers of `eventType` whose conditions hold for `payload`. */
  match(tenantId: string, eventType: string, payload: unknown): IndexedTrigger[] {
    const list = this.byTenant.get(tenantId)?.get(eventType);
    if (!list) return [];
    const out: IndexedTrigger[] = [];
    const cache: ReadCache = new Map();
    for (let i = 0; i < list.length; i++) if (list[i].compiled.matches(payload, cache)) out.push(list[i]);
    return out;
  }

  /** The triggers a tenant has for one event type (enabled or not). */
  triggersOf(tenantId: string, eventType: string): readonly IndexedTrigger[] {
    return this.byTenant.get(tenantId)?.get(eventType) ?? [];
  }

  get size(): number {
    return this.byId.size;
  }
}
