import { testWebhookCommand } from '@triggers/testing';
import { replayedCommand } from './webhook-command.handler';

describe('replayedCommand', () => {
  const given = { ...testWebhookCommand({ eventId: 'e1' }), attempt: 289, firstAttemptAt: 1_000, dueAt: 2_000 };

  it('leaves a command as read unless it was replayed from the dead-letter topic', () => {
    expect(replayedCommand(given, { headers: {}, timestamp: '5000' })).toBe(given);
    expect(replayedCommand(given, { headers: { 'dlq-reason': 'x' }, timestamp: '5000' })).toBe(given);
  });

  it('starts a replayed command over: first attempt, its window counted from the replay', () => {
    const replayed = replayedCommand(given, { headers: { 'dlq-replayed-from': 'triggers.deadletter.webhook.v1:0:7' }, timestamp: '5000' });
    expect(replayed).toEqual({ ...given, attempt: 1, firstAttemptAt: 5000, dueAt: null });
  });
});
