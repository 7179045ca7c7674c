import { commandIdFor, logIdFor, webhookBody } from '@triggers/contracts';
import { TriggerIndex, type Trigger } from '@triggers/rules';
import { specPayload } from '@triggers/testing';
import { matchEvent } from './event-matcher';

/** The matcher's decision for one event, over an index of triggers and a fixed clock. */
describe('matchEvent', () => {
  const { event: wrap } = specPayload('agent-wrap-inbound.json');
  const payload: Record<string, unknown> = { ...(wrap.payload as Record<string, unknown>), leadId: 'lead-7' };
  const event = { tenantId: 'acme', eventId: 'evt-1', type: 'agent.wrap' as const, payload };
  const now = 1_765_000_000_000;
  const trigger = (over: Partial<Trigger> = {}): Trigger => ({
    name: 'wraps',
    eventType: 'agent.wrap',
    enabled: true,
    conditions: [{ reference: 'campaignId', operator: '=', value: String(payload.campaignId) }],
    actions: [
      { action: 'webhook', parameters: { url: 'https://crm.example/hook', retryWindow: 'PT30M' } },
      { action: 'lead.update.list', parameters: { listId: '445' } },
    ],
    ...over,
  });

  it('makes one command per action of each matching trigger, with deterministic ids, and one matched record per trigger', () => {
    const index = new TriggerIndex();
    index.upsert('acme', 't1', 3, trigger());
    const out = matchEvent(index, event, now);
    expect(out.logs).toEqual([
      expect.objectContaining({ logId: logIdFor('evt-1', 't1', 'matched'), step: 'matched', status: 'info', time: now, triggerId: 't1', eventId: 'evt-1' }),
    ]);
    expect(out.logs[0].message).toBe('matched trigger "wraps" (version 3): webhook, lead.update.list');
    expect(out.webhookCommands).toEqual([
      expect.objectContaining({
        commandId: commandIdFor('evt-1', 't1', 0),
        url: 'https://crm.example/hook',
        body: webhookBody('agent.wrap', payload),
        origin: 'event',
        attempt: 1,
        firstAttemptAt: now,
        retryWindowMinutes: 30,
      }),
    ]);
    expect(out.leadCommands).toEqual([
      expect.objectContaining({ commandId: commandIdFor('evt-1', 't1', 1), leadId: payload.leadId, toListId: '445', campaignId: payload.campaignId }),
    ]);
    // The same event again (a batch read again) makes the same ids.
    const again = matchEvent(index, event, now + 1);
    expect(again.webhookCommands.map((c) => c.commandId)).toEqual(out.webhookCommands.map((c) => c.commandId));
    expect(again.logs.map((l) => l.logId)).toEqual(out.logs.map((l) => l.logId));
  });

  it('makes nothing for a trigger whose conditions fail, one of another tenant or type, or a disabled one', () => {
    const index = new TriggerIndex();
    index.upsert('acme', 't1', 1, trigger({ conditions: [{ reference: 'campaignId', operator: '=', value: 'another' }] }));
    index.upsert('globex', 't2', 1, trigger());
    index.upsert('acme', 't3', 1, trigger({ eventType: 'mpiq.attempt' }));
    index.upsert('acme', 't4', 1, trigger({ enabled: false }));
    expect(matchEvent(index, event, now)).toEqual({ webhookCommands: [], leadCommands: [], logs: [] });
  });

  it('logs lead.skipped instead of a lead command when the event carries no lead', () => {
    const index = new TriggerIndex();
    index.upsert('acme', 't1', 1, trigger({ actions: [{ action: 'lead.update.list', parameters: { listId: '445' } }] }));
    const out = matchEvent(index, { ...event, payload: { ...payload, leadId: '' } }, now);
    expect(out.leadCommands).toEqual([]);
    expect(out.logs.map((l) => [l.step, l.logId])).toEqual([
      ['matched', logIdFor('evt-1', 't1', 'matched')],
      ['lead.skipped', logIdFor(commandIdFor('evt-1', 't1', 0), 'lead.skipped')],
    ]);
  });
});
