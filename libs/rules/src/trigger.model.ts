import type { EventType } from '@triggers/contracts';

/** The operators of the spec: equals, greater/less (or equal), and "is in" a comma list. */
export const OPERATORS = ['=', '>', '<', '>=', '<=', 'in'] as const;
export type Operator = (typeof OPERATORS)[number];

/** The actions of the spec. */
export const ACTIONS = ['webhook', 'lead.update.list'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** One condition: `reference` is a dot path into the event's payload. */
export interface Condition {
  reference: string;
  operator: Operator;
  value: string;
}

/** A webhook action: POST the event to `url`. */
export interface WebhookAction {
  action: 'webhook';
  /**
   * `retryWindow`: how long failed deliveries are retried, as an ISO-8601 duration in minutes
   * ("PT30M"; written as minutes or any ISO-8601 duration of whole minutes; absent: the spec's 48
   * hours). A string, as the config topic carries parameters.
   */
  parameters: { url: string; retryWindow?: string };
}

/** Move the event's lead to `listId` (a list of the same campaign). */
export interface LeadUpdateListAction {
  action: 'lead.update.list';
  parameters: { listId: string };
}

export type Action = WebhookAction | LeadUpdateListAction;

/** A valid, normalised trigger. */
export interface Trigger {
  name: string;
  eventType: EventType;
  enabled: boolean;
  conditions: Condition[];
  actions: Action[];
}

/** What a tenant submits: `parameters` as an object or as the JSON text typed into the form. */
export interface TriggerInput {
  name?: unknown;
  eventType?: unknown;
  enabled?: unknown;
  parameters?: unknown;
}

/** The four error messages of the spec's "Create a New Trigger" section, verbatim. */
export const SPEC_ERRORS = {
  invalidJson: 'Invalid JSON format',
  actions: 'Actions object error',
  actionParameters: 'Invalid action parameters',
  saving: 'Error when saving trigger',
} as const;
export type SpecError = (typeof SPEC_ERRORS)[keyof typeof SPEC_ERRORS];

/** One problem, at a path such as `parameters.actions[0].parameters.url`. */
export interface ValidationDetail {
  path: string;
  message: string;
}

/** A trigger that can be saved, with warnings a tenant should read. */
export interface ValidTrigger {
  ok: true;
  trigger: Trigger;
  /** The parameters as the tenant wrote them (pretty JSON when given as an object). */
  parametersText: string;
  warnings: string[];
}

/** A trigger that cannot be saved: one of the spec's messages, with every problem found. */
export interface InvalidTrigger {
  ok: false;
  error: SpecError;
  details: ValidationDetail[];
}

export type ValidationResult = ValidTrigger | InvalidTrigger;

/** Limits that keep a stored trigger reasonable. */
export const LIMITS = {
  /** Characters (code points) of a name. */
  name: 200,
  conditions: 50,
  actions: 10,
  value: 1000,
  url: 2048,
  listId: 64,
  /** Characters of a condition reference, and its segments (`lead.phones.1.count` has 4). */
  reference: 200,
  referenceDepth: 8,
  /** Values of an `in` list. */
  inValues: 100,
  /** Nesting of the parameters JSON. */
  jsonDepth: 32,
} as const;
