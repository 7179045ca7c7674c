import { inNewWindow, newLogRecord } from '@triggers/contracts';
import { toEventLogDocument } from '@triggers/mongo';
import { testWebhookCommand } from '@triggers/testing';
import type { TriggerDocument } from '../trigger-store/trigger.repository';
import { redeliveryOf, windowOf } from './webhook-sends.service';

/** Sending a webhook again follows one rule, whoever sends it: a new window as long as its trigger's. */
describe('re-sending a webhook', () => {
  const trigger = (actions: { action: string; parameters: Record<string, unknown> }[]) => ({ actions }) as unknown as Pick<TriggerDocument, 'actions'>;
  const attempt = newLogRecord({
    logId: 'log_1',
    tenantId: 'acme',
    triggerId: 'trg_1',
    eventId: 'evt_1',
    eventType: 'agent.wrap',
    commandId: 'cmd_1',
    step: 'webhook.gave_up',
    status: 'failed',
    time: 1_000,
    attempt: 289,
    origin: 'event',
    http: {
      method: 'POST',
      url: 'https://crm.example/b',
      requestHeaders: {},
      requestBody: '{"type":"agent.wrap"}',
      responseStatus: 503,
      responseHeaders: {},
      responseBody: '',
      responseTruncated: false,
      durationMs: 5,
      errorClass: null,
    },
  });

  it("takes the window of the trigger's action sending to that URL, else its first webhook's, else the spec's", () => {
    const t = trigger([
      { action: 'webhook', parameters: { url: 'https://crm.example/a', retryWindow: 'PT30M' } },
      { action: 'lead.update.list', parameters: { list_id: '445' } },
      { action: 'webhook', parameters: { url: 'https://crm.example/b', retryWindow: 120 } },
    ]);
    expect(windowOf(t, 'https://crm.example/b')).toBe(120);
    expect(windowOf(t, 'https://elsewhere.example/')).toBe(30);
    expect(windowOf(trigger([{ action: 'webhook', parameters: { url: 'https://crm.example/b' } }]), 'https://crm.example/b')).toBeNull();
    expect(windowOf(null, 'https://crm.example/b')).toBeNull();
  });

  it('sends the logged request again under the same command id, from attempt 1, in a new window of the given length', () => {
    const command = redeliveryOf(toEventLogDocument(attempt), 'manual', 5_000, 30);
    expect(command).toMatchObject({
      commandId: 'cmd_1',
      url: 'https://crm.example/b',
      body: '{"type":"agent.wrap"}',
      origin: 'manual',
      attempt: 1,
      firstAttemptAt: 5_000,
      dueAt: null,
      retryWindowMinutes: 30,
    });
    expect(redeliveryOf(toEventLogDocument({ ...attempt, http: null }), 'bulk', 5_000, null)).toBeNull();
  });

  it('is the rule a dead letter replayed by an operator follows: same id, URL, body and window length, new window', () => {
    const given = { ...testWebhookCommand({ eventId: 'e1' }), attempt: 289, firstAttemptAt: 1_000, dueAt: 2_000, retryWindowMinutes: 30 };
    expect(inNewWindow(given, 9_000)).toEqual({ ...given, attempt: 1, firstAttemptAt: 9_000, dueAt: null });
    expect(inNewWindow(given, 9_000, 'bulk').origin).toBe('bulk');
  });
});
