import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { signWebhook } from './webhook-signer';

describe('signWebhook', () => {
  const secret = () => `whsec_${randomBytes(24).toString('base64')}`;

  it('makes signatures the Standard Webhooks reference library accepts, one per secret', () => {
    const [a, b] = [secret(), secret()];
    const body = JSON.stringify({ type: 'call.completed', payload: { callId: 'c1', outcomes: [] } });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = signWebhook([a, b], 'cmd_123', timestamp, body);
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/=]+ v1,[A-Za-z0-9+/=]+$/);
    const headers = { 'webhook-id': 'cmd_123', 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    for (const s of [a, b]) expect(new Webhook(s).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(a).verify(body.replace('c1', 'c2'), headers)).toThrow();
  });
});
