import {
  EventEnvelope,
  LeadCommand,
  LogRecord,
  WebhookCommand,
  commandIdFor,
  logIdFor,
  newLogRecord,
  newWebhookCommand,
  webhookBody,
} from '@triggers/contracts';
import type { TriggerIndex } from '@triggers/rules';

/** What one event produces: the commands of every matching action and the log records. */
export interface MatchOutput {
  webhookCommands: WebhookCommand[];
  leadCommands: LeadCommand[];
  logs: LogRecord[];
}

/**
 * Judges one event against its tenant's enabled triggers of its type and makes one command per
 * action of each matching trigger, plus a `matched` log record per trigger. Command ids are
 * deterministic (event, trigger, action), so a reprocessed event yields the same ids.
 */
export function matchEvent(index: TriggerIndex, event: EventEnvelope, now: number): MatchOutput {
  const out: MatchOutput = { webhookCommands: [], leadCommands: [], logs: [] };
  const payload = event.payload as Record<string, unknown>;
  let body: string | undefined;
  for (const hit of index.match(event.tenantId, event.type, payload)) {
    const trigger = hit.compiled.trigger;
    const base = { tenantId: event.tenantId, triggerId: hit.triggerId, eventId: event.eventId, eventType: event.type };
    out.logs.push(
      newLogRecord({
        ...base,
        logId: logIdFor(event.eventId, hit.triggerId, 'matched'),
        step: 'matched',
        status: 'info',
        time: now,
        message: `matched trigger "${trigger.name}" (version ${hit.version}): ${trigger.actions.map((a) => a.action).join(', ')}`,
      }),
    );
    trigger.actions.forEach((action, actionIndex) => {
      if (action.action === 'webhook') {
        // The body is the event's JSON exactly as the spec shows it, built once per event.
        body ??= webhookBody(event.type, payload);
        out.webhookCommands.push(newWebhookCommand({ ...base, actionIndex, url: action.parameters.url, body, origin: 'event', now }));
        return;
      }
      const leadId = payload.leadId;
      const commandId = commandIdFor(event.eventId, hit.triggerId, actionIndex);
      if (typeof leadId !== 'string' || leadId === '') {
        out.logs.push(
          newLogRecord({
            ...base,
            logId: logIdFor(commandId, 'lead.skipped'),
            commandId,
            step: 'lead.skipped',
            status: 'info',
            time: now,
            message: 'skipped: event has no lead',
          }),
        );
        return;
      }
      out.leadCommands.push({
        ...base,
        commandId,
        leadId,
        campaignId: typeof payload.campaignId === 'string' ? payload.campaignId : null,
        toListId: action.parameters.listId,
      });
    });
  }
  return out;
}
