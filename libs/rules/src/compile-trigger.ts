import type { EventType } from '@triggers/contracts';
import { resolveReference } from './reference-catalog';
import type { Action, Condition, Trigger } from './trigger.model';
import { ActualValue, PreparedValue, equals, order, prepareValue } from './values';

/** A payload value a reference points to, or MISSING when the path does not exist. */
export const MISSING: unique symbol = Symbol('missing');
type Resolved = unknown | typeof MISSING;

/** Reads a dot path (numeric keys included: `lead.phones.1.phone`) from a payload. */
export function readPath(payload: unknown, segments: readonly string[]): Resolved {
  let current: unknown = payload;
  for (const key of segments) {
    if (current === null || typeof current !== 'object') return MISSING;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return MISSING;
    current = (current as Record<string, unknown>)[key];
  }
  return current === undefined ? MISSING : current;
}

/**
 * Values read from one payload while it is judged, by reference, so many triggers testing the
 * same field read and parse it once.
 */
export type ReadCache = Map<string, ActualValue | typeof MISSING>;

/**
 * A condition compiled once: its payload path, and its value parsed (`in`: each item). Plain
 * data judged by {@link holds}, not a closure per condition: an index of 10,000 triggers held
 * 40,000 closures and their contexts.
 */
interface CompiledCondition {
  path: string;
  segments: readonly string[];
  operator: Condition['operator'];
  /** The value of `=`, `>`, `<`, `>=`, `<=`. */
  expected?: PreparedValue;
  /** The items of `in`. */
  items?: readonly PreparedValue[];
}

/**
 * Strings many triggers share (references, paths, operators, action names) and split paths, held
 * once, up to a bound: references come from tenants, and a pool without one would grow with them.
 */
const POOL_LIMIT = 4096;
const strings = new Map<string, string>();
const splitPaths = new Map<string, readonly string[]>();

/** The pooled copy of `s` (or `s` itself once the pool is full). */
export function shared(s: string): string {
  const held = strings.get(s);
  if (held !== undefined) return held;
  if (strings.size < POOL_LIMIT) strings.set(s, s);
  return s;
}

function segmentsOf(path: string): readonly string[] {
  let segments = splitPaths.get(path);
  if (segments === undefined) {
    segments = path.split('.').map(shared);
    if (splitPaths.size < POOL_LIMIT) splitPaths.set(path, segments);
  }
  return segments;
}

function compileCondition(eventType: string, c: Condition): CompiledCondition {
  const path = shared(resolveReference(eventType as EventType, c.reference));
  const isIn = c.operator === 'in';
  return {
    path,
    segments: segmentsOf(path),
    operator: c.operator,
    expected: isIn ? undefined : prepareValue(c.value),
    // "215,223" and "215, 223" are the same list.
    items: isIn
      ? c.value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '')
          .map(prepareValue)
      : undefined,
  };
}

/** Whether a compiled condition holds for the value its path reads (a missing path fails). */
function holds(c: CompiledCondition, actual: ActualValue | typeof MISSING): boolean {
  if (actual === MISSING) return false;
  if (c.operator === '=') return equals(actual, c.expected!);
  if (c.operator === 'in') {
    for (const item of c.items!) if (equals(actual, item)) return true;
    return false;
  }
  const o = order(actual, c.expected!);
  if (o === undefined) return false;
  switch (c.operator) {
    case '>':
      return o > 0;
    case '<':
      return o < 0;
    case '>=':
      return o >= 0;
    case '<=':
      return o <= 0;
  }
}

/** A trigger compiled once: its conditions with pre-parsed values and paths. */
export interface CompiledTrigger {
  trigger: Trigger;
  /** Number of conditions, for counting checks in benchmarks and metrics. */
  conditionCount: number;
  /**
   * True when the trigger is enabled and every condition holds for `payload`. Pass one `cache`
   * to every trigger judged against the same payload.
   */
  matches(payload: unknown, cache?: ReadCache): boolean;
}

class Compiled implements CompiledTrigger {
  constructor(
    readonly trigger: Trigger,
    private readonly conditions: readonly CompiledCondition[],
  ) {}

  get conditionCount(): number {
    return this.conditions.length;
  }

  matches(payload: unknown, cache: ReadCache = new Map()): boolean {
    if (!this.trigger.enabled) return false;
    for (let i = 0; i < this.conditions.length; i++) {
      const c = this.conditions[i];
      let actual = cache.get(c.path);
      if (actual === undefined) {
        const raw = readPath(payload, c.segments);
        actual = raw === MISSING ? MISSING : new ActualValue(raw);
        cache.set(c.path, actual);
      }
      if (!holds(c, actual)) return false;
    }
    return true;
  }
}

/**
 * Compiles a trigger into a predicate over payloads: all conditions must hold (AND), no
 * conditions match every event of the type, a missing path fails its condition, and a disabled
 * trigger never matches. The compiled trigger keeps its own copy of `trigger`, with the strings
 * triggers share pooled.
 */
export function compileTrigger(trigger: Trigger): CompiledTrigger {
  const held: Trigger = {
    ...trigger,
    eventType: shared(trigger.eventType) as Trigger['eventType'],
    conditions: trigger.conditions.map((c) => ({ reference: shared(c.reference), operator: shared(c.operator) as Condition['operator'], value: c.value })),
    actions: trigger.actions.map((a) => ({ ...a, action: shared(a.action) }) as Action),
  };
  return new Compiled(
    held,
    held.conditions.map((c) => compileCondition(held.eventType, c)),
  );
}

/** One condition's verdict in {@link explain}. */
export interface ConditionExplanation {
  reference: string;
  /** The payload field read, when an alias applies (`campaign_id` for MPIQ's `campaignId`). */
  resolvedReference?: string;
  operator: Condition['operator'];
  expected: string;
  /** The payload's value; absent when the path does not exist. */
  actual?: unknown;
  found: boolean;
  passed: boolean;
}

/** The dry run of a trigger against an event, condition by condition. */
export interface Explanation {
  matched: boolean;
  enabled: boolean;
  eventTypeMatches: boolean;
  conditions: ConditionExplanation[];
  /** The actions that would run (none unless matched). */
  actions: Action[];
}

/**
 * Explains whether `trigger` matches `event` and why, for the API's evaluate endpoint. No side
 * effects.
 */
export function explain(trigger: Trigger, event: { type: string; payload: unknown }): Explanation {
  const eventTypeMatches = event.type === trigger.eventType;
  const conditions = trigger.conditions.map((c): ConditionExplanation => {
    const resolved = resolveReference(trigger.eventType as EventType, c.reference);
    const actual = readPath(event.payload, resolved.split('.'));
    const found = actual !== MISSING;
    return {
      reference: c.reference,
      ...(resolved !== c.reference ? { resolvedReference: resolved } : {}),
      operator: c.operator,
      expected: c.value,
      ...(found ? { actual } : {}),
      found,
      passed: holds(compileCondition(trigger.eventType, c), actual === MISSING ? MISSING : new ActualValue(actual)),
    };
  });
  const matched = trigger.enabled && eventTypeMatches && conditions.every((c) => c.passed);
  return { matched, enabled: trigger.enabled, eventTypeMatches, conditions, actions: matched ? trigger.actions : [] };
}
