import type { EventType } from '@triggers/contracts';
import { closestWord } from './did-you-mean';

/** A payload shape: a leaf (1), or an object of shapes; `*` stands for any key of a map. */
type Shape = 1 | { [key: string]: Shape };

const OUTCOME_COUNTS: Shape = { '*': { count: 1, description: 1 } };
const PHONE: Shape = { phone: 1, completed: 1, count: 1, outcomes: { '*': { count: 1, statusCode: 1 } } };
const LEAD: Shape = {
  completed: 1,
  totalAttempts: 1,
  listId: 1,
  customerKey: 1,
  nextAttempt: 1,
  statusCode: 1,
  phones: { '*': PHONE },
  outcomes: OUTCOME_COUNTS,
};
const OUTCOME = {
  timestamp: 1,
  agentInteractionId: 1,
  wrapCode: 1,
  callerNumber: 1,
  calledNumber: 1,
  activityId: 1,
  callbackDate: 1,
  agentId: 1,
  leadId: 1,
  campaignId: 1,
  lead: LEAD,
} as const;
const FIELD_DATA: Shape = { '*': { key: 1, value: 1, title: 1, type: 1 } };

/**
 * The payload shape of each event type, as the spec's examples show it and `schemas/events/`
 * encodes it (a unit test keeps the two in step). Used to warn about references that cannot
 * match, e.g. `campaignID` for `campaignId`.
 */
export const PAYLOAD_SHAPES: Record<EventType, Shape> = {
  'outbound.lead.outcome.predictive': { ...OUTCOME, callId: 1 },
  'outbound.lead.outcome.preview': { ...OUTCOME },
  // Paths are a set, so the order here need not follow the payload's field order.
  'agent.wrap': {
    interactionType: 1,
    wrapDescription: 1,
    ...OUTCOME,
    durations: { preview: 1, dial: 1, interaction: 1, talk: 1, wrap: 1 },
  },
  'mpiq.attempt': {
    mpq_id: 1,
    activity_id: 1,
    campaign_id: 1,
    threshold_type: 1,
    ivr_queue_object_id: 1,
    status: 1,
    attempts: 1,
    max_attempts: 1,
    amd_enabled: 1,
    callback_phone: 1,
    callback_announcement: 1,
    created_at: 1,
    outcome_type: 1,
  },
  'inbound.workflow.abandon': {
    timestamp: 1,
    activityId: 1,
    campaignAbandonedWithin: 1,
    timeInWorkflow: 1,
    numberCalled: 1,
    callersNumber: 1,
    workflowActivityFieldData: FIELD_DATA,
  },
  'inbound.queue.abandon': {
    timestamp: 1,
    activityId: 1,
    campaignId: 1,
    timeInWorkflow: 1,
    timeInQueue: 1,
    totalWaitTime: 1,
    numberCalled: 1,
    callersNumber: 1,
    workflowActivityFieldData: FIELD_DATA,
  },
};

/**
 * References that resolve to another field of one event type. The spec's own "Send a Webhook on
 * MPIQ Attempt" example filters on `campaignId`, but MPIQ payloads spell it `campaign_id`; the
 * alias makes the example work as written. This table is the only place aliases live.
 */
export const REFERENCE_ALIASES: Partial<Record<EventType, Record<string, string>>> = {
  'mpiq.attempt': { campaignId: 'campaign_id' },
};

/** The reference a condition actually reads for `eventType` (its alias target, or itself). */
export function resolveReference(eventType: EventType, reference: string): string {
  return REFERENCE_ALIASES[eventType]?.[reference] ?? reference;
}

/** Every path of a shape, with `*` for map keys (`lead.phones.*.phone`). */
export function shapePaths(shape: Shape, prefix = ''): string[] {
  if (shape === 1) return [];
  return Object.entries(shape).flatMap(([key, sub]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...shapePaths(sub, path)];
  });
}

const PATHS = Object.fromEntries(Object.entries(PAYLOAD_SHAPES).map(([type, shape]) => [type, shapePaths(shape)])) as Record<EventType, string[]>;

/** The paths split into segments once, for judging references without splitting them again. */
const PATH_PARTS = Object.fromEntries(Object.entries(PATHS).map(([type, paths]) => [type, paths.map((p) => p.split('.'))])) as Record<EventType, string[][]>;

const matchesPattern = (segments: string[], parts: string[]) => parts.length === segments.length && parts.every((p, i) => p === '*' || p === segments[i]);

/** True when `reference` names a field of `eventType`'s payload (after aliases). */
export function isKnownReference(eventType: EventType, reference: string): boolean {
  const segments = resolveReference(eventType, reference).split('.');
  return PATH_PARTS[eventType].some((parts) => matchesPattern(segments, parts));
}

/** The known reference closest to an unknown one ({@link closestWord}). */
export function suggestReference(eventType: EventType, reference: string): string | undefined {
  // Only a plausible reference gets a suggestion: the cost stays small whatever is sent.
  if (reference.length > 64) return undefined;
  const segments = reference.split('.');
  const candidates = PATH_PARTS[eventType]
    .filter((parts) => parts.length === segments.length)
    .map((parts) => parts.map((part, i) => (part === '*' ? segments[i] : part)).join('.'));
  const aliases = Object.keys(REFERENCE_ALIASES[eventType] ?? {});
  return closestWord(reference, [...new Set([...candidates, ...aliases])]);
}
