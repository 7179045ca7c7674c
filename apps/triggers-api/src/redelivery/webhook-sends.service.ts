import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Caller } from '@triggers/access';
import { EventType, WebhookCommand, inNewWindow, newWebhookCommand, sampleEvent, webhookBody } from '@triggers/contracts';
import type { EventLogDocument } from '@triggers/mongo';
import { type WebhookAction, retryWindowMinutesOf } from '@triggers/rules';
import { ApiError } from '../http/api-errors';
import { EventLogService } from '../event-logs/event-log.service';
import { TriggerDocument, TriggerRepository } from '../trigger-store/trigger.repository';
import { WebhookUrls } from '../http/webhook-urls';
import { CommandProducer } from './command-producer.service';

/** The webhook actions of a trigger, with their index. */
function webhookActions(trigger: Pick<TriggerDocument, 'actions'>): { action: WebhookAction; index: number }[] {
  return trigger.actions.flatMap((a, index) => (a.action === 'webhook' ? [{ action: a as unknown as WebhookAction, index }] : []));
}

/**
 * The delivery window a re-sent webhook gets: its trigger's, as the action sending to that URL
 * now sets it (the first webhook action's when none does; the spec's 48 hours when the trigger is
 * gone or sets none).
 */
export function windowOf(trigger: Pick<TriggerDocument, 'actions'> | null, url: string): number | null {
  if (!trigger) return null;
  const actions = webhookActions(trigger);
  const action = actions.find((a) => a.action.parameters.url === url) ?? actions[0];
  return action ? retryWindowMinutesOf(action.action) : null;
}

/**
 * The command that sends a logged attempt's webhook again, now: the same command id (receivers
 * see the same `webhook-id`), URL and body, in a new delivery window as long as its trigger's
 * ({@link inNewWindow}, the rule a dead letter replayed follows too). Null for a record with no request.
 */
export function redeliveryOf(doc: EventLogDocument, origin: WebhookCommand['origin'], now: number, retryWindowMinutes: number | null): WebhookCommand | null {
  if (!doc.http || !doc.commandId || !doc.triggerId || !doc.eventId) return null;
  const logged = newWebhookCommand({
    commandId: doc.commandId,
    tenantId: doc.tenantId,
    triggerId: doc.triggerId,
    eventId: doc.eventId,
    eventType: doc.eventType ?? 'unknown',
    actionIndex: 0,
    url: doc.http.url,
    body: doc.http.requestBody,
    origin,
    retryWindowMinutes,
    now,
  });
  return inNewWindow(logged, now, origin);
}

/**
 * The one home of webhooks the API sends itself: one logged webhook again (manual), and a
 * trigger's sample (test). Bulk redelivery sends through the same rule, {@link redeliveryOf}.
 */
@Injectable()
export class WebhookSends {
  constructor(
    private readonly eventLogs: EventLogService,
    private readonly triggers: TriggerRepository,
    private readonly commands: CommandProducer,
    private readonly urls: WebhookUrls,
  ) {}

  /**
   * Sends the webhook of a logged attempt again, now, as a new command marked manual. It keeps
   * the command id, so the receiver sees the same `webhook-id` and can tell it is the same event.
   */
  async redeliver(caller: Caller, logId: string): Promise<{ commandId: string; url: string }> {
    const doc = await this.eventLogs.find(caller, logId);
    const trigger = doc.triggerId ? await this.triggers.find(caller.tenantId, doc.triggerId) : null;
    const command = redeliveryOf(doc, 'manual', Date.now(), windowOf(trigger, doc.http?.url ?? ''));
    if (!command) throw new ApiError(409, 'only a webhook delivery can be redelivered; this log entry has no request');
    await this.urls.check([{ path: 'http.url', url: command.url }]);
    await this.commands.send([command]);
    return { commandId: command.commandId, url: command.url };
  }

  /**
   * Sends the sample payload of the trigger's event type (or the one given) to each of its
   * webhooks through the real delivery path, marked as a test in the Event Logs, each in its
   * action's delivery window.
   */
  async testSend(trigger: TriggerDocument, payload?: Record<string, unknown>): Promise<{ eventId: string; commands: { commandId: string; url: string }[] }> {
    const webhooks = webhookActions(trigger);
    if (webhooks.length === 0) throw new ApiError(409, 'this trigger has no webhook action to test');
    await this.urls.check(webhooks.map(({ action, index }) => ({ path: `parameters.actions.${index}.parameters.url`, url: action.parameters.url })));
    const eventId = `test-${randomUUID()}`;
    const body = webhookBody(trigger.eventType, payload ?? sampleEvent(trigger.eventType as EventType).payload);
    const now = Date.now();
    const commands = webhooks.map(({ action, index }) =>
      newWebhookCommand({
        tenantId: trigger.tenantId,
        triggerId: trigger._id,
        eventId,
        eventType: trigger.eventType,
        actionIndex: index,
        url: action.parameters.url,
        body,
        origin: 'test',
        retryWindowMinutes: retryWindowMinutesOf(action),
        now,
      }),
    );
    await this.commands.send(commands);
    return { eventId, commands: commands.map((c) => ({ commandId: c.commandId, url: c.url })) };
  }
}
