import { EVENT_TYPES, EventType, isEventType } from '@triggers/contracts';

/**
 * The spec names each event type in two places with slightly different words ("Abandoned in
 * Queue" in the overview, "Abandoned From Queue" in the create form); both are accepted.
 */
const DISPLAY_NAMES: Record<string, EventType> = {
  ...Object.fromEntries(Object.entries(EVENT_TYPES).map(([id, t]) => [t.displayName, id as EventType])),
  'Abandoned From Workflow': 'inbound.workflow.abandon',
  'Abandoned From Queue': 'inbound.queue.abandon',
  'Dialler outcome (Predictive)': 'outbound.lead.outcome.predictive',
  'Dialler outcome (Preview)': 'outbound.lead.outcome.preview',
};

const fold = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();
const BY_FOLDED = new Map(Object.entries(DISPLAY_NAMES).map(([name, id]) => [fold(name), id]));

/**
 * Normalises an event type given as its id (`agent.wrap`) or a display name of the spec
 * ("Dialler Call Outcome (Predictive)", any case and spacing) to its id; undefined if unknown.
 */
export function normaliseEventType(value: unknown): EventType | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (isEventType(trimmed)) return trimmed;
  return BY_FOLDED.get(fold(trimmed));
}
