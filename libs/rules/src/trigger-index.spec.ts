import type { Trigger } from './trigger.model';
import { TriggerIndex } from './trigger-index';

const webhook = (eventType: Trigger['eventType'], campaignId: string, enabled = true): Trigger => ({
  name: `on ${campaignId}`,
  eventType,
  enabled,
  conditions: [{ reference: 'campaignId', operator: '=', value: campaignId }],
  actions: [{ action: 'webhook', parameters: { url: 'https://a.example' } }],
});

describe('TriggerIndex', () => {
  it("matches only the event's own tenant and type", () => {
    const index = new TriggerIndex();
    index.upsert('tenant-a', 't1', 1, webhook('agent.wrap', '215'));
    index.upsert('tenant-b', 't2', 1, webhook('agent.wrap', '215'));
    index.upsert('tenant-a', 't3', 1, webhook('mpiq.attempt', '215'));
    const hits = index.match('tenant-a', 'agent.wrap', { campaignId: '215' });
    expect(hits.map((h) => h.triggerId)).toEqual(['t1']);
    expect(index.match('tenant-c', 'agent.wrap', { campaignId: '215' })).toEqual([]);
  });

  it('replaces a trigger only with a newer version and forgets a deleted one', () => {
    const index = new TriggerIndex();
    index.upsert('a', 't1', 2, webhook('agent.wrap', '215'));
    expect(index.upsert('a', 't1', 1, webhook('agent.wrap', '999'))).toBe(false);
    expect(index.match('a', 'agent.wrap', { campaignId: '215' })).toHaveLength(1);
    expect(index.upsert('a', 't1', 3, webhook('agent.wrap', '999'))).toBe(true);
    expect(index.match('a', 'agent.wrap', { campaignId: '215' })).toHaveLength(0);
    expect(index.match('a', 'agent.wrap', { campaignId: '999' })).toHaveLength(1);
    expect(index.remove('a', 't1')).toBe(true);
    expect(index.match('a', 'agent.wrap', { campaignId: '999' })).toHaveLength(0);
    expect(index.size).toBe(0);
  });

  it('moves a trigger whose event type changed and skips disabled ones', () => {
    const index = new TriggerIndex();
    index.upsert('a', 't1', 1, webhook('agent.wrap', '1'));
    index.upsert('a', 't1', 2, webhook('mpiq.attempt', '1'));
    expect(index.triggersOf('a', 'agent.wrap')).toHaveLength(0);
    expect(index.match('a', 'mpiq.attempt', { campaign_id: '1' })).toHaveLength(1);
    index.upsert('a', 't1', 3, webhook('mpiq.attempt', '1', false));
    expect(index.match('a', 'mpiq.attempt', { campaign_id: '1' })).toHaveLength(0);
    expect(index.triggersOf('a', 'mpiq.attempt')).toHaveLength(1);
  });
});
