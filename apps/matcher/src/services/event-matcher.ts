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
import { retryWindowMinutesOf, type IndexedTrigger, type TriggerIndex } from '@triggers/rules';

/** What one event produces: the commands of every matching action and the log records. */
export interface MatchOutput {
  webhookCommands: WebhookCommand[];
  leadCommands: LeadCommand[];
  logs: LogRecord[];
}

const matchedMessages = new WeakMap<IndexedTrigger, string>();

/** The `matched` record's message of a held trigger version, made once per version (not per event). */
function matchedMessage(hit: IndexedTrigger): string {
  let message = matchedMessages.get(hit);
  if (message === undefined) {
    const { name, actions } = hit.compiled.trigger;
    message = `matched trigger "${name}" (version ${hit.version}): ${actions.map((a) => a.action).join(', ')}`;
    matchedMessages.set(hit, message);
  }
  return message;
}

/**
 * Judges one event against its tenant's enabled triggers of its type and makes one command per
 * action of each matching trigger, plus a `matched` log record per trigger. Command ids are
 * deterministic (event, trigger, action), so a reprocessed event yields the same ids.
 */
export function matchEvent(index: TriggerIndex, event: EventEnvelope, now: number): MatchOutput {
  const out: MatchOutput = { webhookCommands: [], leadCommands: [], logs: [] };
  const payload = event.payload as Record<string, unknown>;
  const { tenantId, eventId, type: eventType } = event;
  let body: string | undefined;
  for (const hit of index.match(tenantId, eventType, payload)) {
    const { triggerId } = hit;
    out.logs.push(
      newLogRecord({
        logId: logIdFor(eventId, triggerId, 'matched'),
        tenantId,
        triggerId,
        eventId,
        eventType,
        step: 'matched',
        status: 'info',
        time: now,
        message: matchedMessage(hit),
      }),
    );
    const actions = hit.compiled.trigger.actions;
    for (let actionIndex = 0; actionIndex < actions.length; actionIndex++) {
      const action = actions[actionIndex];
      if (action.action === 'webhook') {
        // The body is the event's JSON exactly as the spec shows it, built once per event.
        body ??= webhookBody(eventType, payload);
        out.webhookCommands.push(
          newWebhookCommand({
            tenantId,
            triggerId,
            eventId,
            eventType,
            actionIndex,
            url: action.parameters.url,
            body,
            origin: 'event',
            now,
            retryWindowMinutes: retryWindowMinutesOf(action),
          }),
        );
        continue;
      }
      const leadId = payload.leadId;
      const commandId = commandIdFor(eventId, triggerId, actionIndex);
      if (typeof leadId !== 'string' || leadId === '') {
        out.logs.push(
          newLogRecord({
            logId: logIdFor(commandId, 'lead.skipped'),
            tenantId,
            triggerId,
            eventId,
            eventType,
            commandId,
            step: 'lead.skipped',
            status: 'info',
            time: now,
            message: 'skipped: event has no lead',
          }),
        );
        continue;
      }
      out.leadCommands.push({
        tenantId,
        triggerId,
        eventId,
        eventType,
        commandId,
        leadId,
        campaignId: typeof payload.campaignId === 'string' ? payload.campaignId : null,
        toListId: action.parameters.listId,
      });
    }
  }
  return out;
}
