/**
 * The six event types of the spec, by id, with the display names the spec's help page uses.
 * The id is what producers put in `type` and what a trigger's `eventType` holds.
 */
export const EVENT_TYPES = {
  'outbound.lead.outcome.predictive': { displayName: 'Dialler Call Outcome (Predictive)', schema: 'triggers.events.PredictiveOutcomeEvent' },
  'outbound.lead.outcome.preview': { displayName: 'Dialler Call Outcome (Preview)', schema: 'triggers.events.PreviewOutcomeEvent' },
  'agent.wrap': { displayName: 'Agent Wrap', schema: 'triggers.events.AgentWrapEvent' },
  'mpiq.attempt': { displayName: 'MPIQ Attempt', schema: 'triggers.events.MpiqAttemptEvent' },
  'inbound.workflow.abandon': { displayName: 'Abandoned in Workflow', schema: 'triggers.events.WorkflowAbandonEvent' },
  'inbound.queue.abandon': { displayName: 'Abandoned in Queue', schema: 'triggers.events.QueueAbandonEvent' },
} as const;

/** One of the six event type ids. */
export type EventType = keyof typeof EVENT_TYPES;

/** Every event type id, in the spec's order. */
export const EVENT_TYPE_IDS = Object.keys(EVENT_TYPES) as EventType[];

/** True when `value` is one of the six event type ids. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(EVENT_TYPES, value);
}
