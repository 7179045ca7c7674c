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

type Check = (actual: ActualValue | typeof MISSING) => boolean;

/**
 * Values read from one payload while it is judged, by reference, so many triggers testing the
 * same field read and parse it once.
 */
export type ReadCache = Map<string, ActualValue | typeof MISSING>;

function compileCheck(condition: Condition): Check {
  const expected = prepareValue(condition.value);
  const ordered =
    (test: (o: number) => boolean): Check =>
    (actual) => {
      if (actual === MISSING) return false;
      const o = order(actual, expected);
      return o !== undefined && test(o);
    };
  switch (condition.operator) {
    case '=':
      return (actual) => actual !== MISSING && equals(actual, expected);
    case 'in': {
      // "215,223" and "215, 223" are the same list.
      const items: PreparedValue[] = condition.value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
        .map(prepareValue);
      return (actual) => actual !== MISSING && items.some((item) => equals(actual, item));
    }
    case '>':
      return ordered((o) => o > 0);
    case '<':
      return ordered((o) => o < 0);
    case '>=':
      return ordered((o) => o >= 0);
    case '<=':
      return ordered((o) => o <= 0);
  }
}

/** A trigger compiled once: its conditions as closures over pre-parsed values and paths. */
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

/**
 * Compiles a trigger into a predicate over payloads: all conditions must hold (AND), no
 * conditions match every event of the type, a missing path fails its condition, and a disabled
 * trigger never matches.
 */
export function compileTrigger(trigger: Trigger): CompiledTrigger {
  const parts = trigger.conditions.map((c) => {
    const path = resolveReference(trigger.eventType, c.reference);
    return { path, segments: path.split('.'), check: compileCheck(c) };
  });
  const matches = trigger.enabled
    ? (payload: unknown, cache: ReadCache = new Map()) => {
        for (let i = 0; i < parts.length; i++) {
          const part = parts[i];
          let actual = cache.get(part.path);
          if (actual === undefined) {
            const raw = readPath(payload, part.segments);
            actual = raw === MISSING ? MISSING : new ActualValue(raw);
            cache.set(part.path, actual);
          }
          if (!part.check(actual)) return false;
        }
        return true;
      }
    : () => false;
  return { trigger, conditionCount: parts.length, matches };
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
      passed: compileCheck(c)(actual === MISSING ? MISSING : new ActualValue(actual)),
    };
  });
  const matched = trigger.enabled && eventTypeMatches && conditions.every((c) => c.passed);
  return { matched, enabled: trigger.enabled, eventTypeMatches, conditions, actions: matched ? trigger.actions : [] };
}
