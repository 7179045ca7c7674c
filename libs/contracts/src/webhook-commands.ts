import { hash } from 'node:crypto';
import type { WebhookCommand } from './messages';

/**
 * The deterministic id of the command one action of one trigger makes for one event: the same
 * inputs always give the same id, so every step downstream can deduplicate, and receivers see it
 * as the stable `webhook-id` header across retries.
 */
export function commandIdFor(eventId: string, triggerId: string, actionIndex: number): string {
  return `cmd_${hash('sha256', `${eventId}\u0000${triggerId}\u0000${actionIndex}`, 'hex').slice(0, 32)}`;
}

/** The exact JSON text a webhook posts: the spec's `{"type": ..., "payload": {...}}`. */
export function webhookBody(type: string, payload: unknown): string {
  return JSON.stringify({ type, payload });
}

/** What {@link newWebhookCommand} needs. */
export interface NewWebhookCommand extends Pick<
  WebhookCommand,
  'tenantId' | 'triggerId' | 'eventId' | 'eventType' | 'actionIndex' | 'url' | 'body' | 'origin' | 'retryWindowMinutes'
> {
  /** When the first attempt is made (epoch ms); the dispatcher's retry window counts from it. */
  now: number;
  /** Defaults to {@link commandIdFor}; a redelivery keeps the original id. */
  commandId?: string;
}

/** A first-attempt webhook command. */
export function newWebhookCommand(c: NewWebhookCommand): WebhookCommand {
  return {
    commandId: c.commandId ?? commandIdFor(c.eventId, c.triggerId, c.actionIndex),
    tenantId: c.tenantId,
    triggerId: c.triggerId,
    eventId: c.eventId,
    eventType: c.eventType,
    actionIndex: c.actionIndex,
    url: c.url,
    body: c.body,
    attempt: 1,
    firstAttemptAt: c.now,
    dueAt: null,
    origin: c.origin,
    retryWindowMinutes: c.retryWindowMinutes ?? null,
  };
}

/**
 * The one rule for sending a webhook again (a manual or bulk redelivery from the API, a dead letter
 * replayed by an operator): the same command id (receivers see the same `webhook-id`), URL, body
 * and window length, and a new delivery window counted from `now`, from attempt 1.
 */
export function inNewWindow(command: WebhookCommand, now: number, origin: WebhookCommand['origin'] = command.origin): WebhookCommand {
  return { ...command, origin, attempt: 1, firstAttemptAt: now, dueAt: null };
}
