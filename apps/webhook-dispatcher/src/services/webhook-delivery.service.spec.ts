import { randomBytes } from 'node:crypto';
import type { KafkaMessage, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { DispatcherConfig } from '@triggers/config';
import { HEADERS, WebhookCommand, resolveTopicNames } from '@triggers/contracts';
import type { BatchOutput } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import type { AppRuntime } from '@triggers/runtime';
import { testWebhookCommand } from '@triggers/testing';
import type { WebhookResult } from './webhook-client';
import { WebhookDeliveryService } from './webhook-delivery.service';
import type { WebhookSecretsStore } from './webhook-secrets.store';

/**
 * The delivery service between its ports, all faked: the secrets store, the HTTP client's POST,
 * the registry's encoders (JSON here) and the consumer's output. What it pushes is what the
 * transaction would write.
 */
describe('WebhookDeliveryService', () => {
  const topics = resolveTopicNames('unit');
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const config = {
    kafka: { topics },
    allowedCidrs: [],
    connectionsPerOrigin: 4,
    webhook: {
      retryDelayMs: 600_000,
      retryWindowMs: 48 * 3_600_000,
      retryWindowMinuteMs: 60_000,
      connectTimeoutMs: 1000,
      headersTimeoutMs: 1000,
      bodyTimeoutMs: 1000,
      maxResponseBytes: 10 * 1024,
      maxQueueWaitMs: 30_000,
    },
  } as unknown as DispatcherConfig;
  const json = () => (value: unknown) => Buffer.from(JSON.stringify(value));
  const rt = {
    config,
    logger: createLogger({ app: 'test', level: 'silent' }),
    metrics: new Registry(),
    serde: { encoderFor: async () => json() },
    get tracing() {
      return jest.requireActual('@triggers/tracing').tracing();
    },
  } as unknown as AppRuntime<DispatcherConfig>;

  let secrets: string[] | null;
  const store = { secretsFor: async () => secrets } as unknown as WebhookSecretsStore;
  const service = new WebhookDeliveryService(store, rt);
  const posted: { url: string; headers: Record<string, string>; body: string }[] = [];
  let answer: Partial<WebhookResult>;
  jest.spyOn(service.client, 'post').mockImplementation(async (url, headers, body) => {
    posted.push({ url: url.toString(), headers, body });
    return { responseStatus: 200, responseHeaders: {}, responseBody: 'ok', responseTruncated: false, durationMs: 7, errorClass: null, error: null, ...answer };
  });
  afterAll(() => service.close());

  beforeEach(() => {
    secrets = [secret];
    posted.length = 0;
    answer = {};
  });

  /** Delivers `command` as read from partition 0, offset 5; what it pushed, by topic, decoded. */
  const deliver = async (command: WebhookCommand) => {
    const pushed: { topic: string; message: Message }[] = [];
    const out: BatchOutput = { push: (topic, message) => void pushed.push({ topic, message }) };
    const read = {
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      headers: {},
      offset: '5',
      timestamp: String(Date.now()),
      attributes: 0,
    } as unknown as KafkaMessage;
    const outcome = await service.deliver(command, read, { topic: topics.webhookCommands, partition: 0 }, out);
    const of = (topic: string) => pushed.filter((p) => p.topic === topic).map((p) => p.message);
    const decoded = (m: Message) => JSON.parse(String(m.value)) as Record<string, unknown>;
    return { outcome, log: of(topics.log).map(decoded), retry: of(topics.webhookRetry), dead: of(topics.deadLetterWebhook) };
  };
  const command = (fields: Partial<WebhookCommand> = {}) => ({
    ...testWebhookCommand({ eventId: 'e1', url: 'https://hooks.example/in', body: '{"type":"x"}' }),
    ...fields,
  });

  it('signs and posts the body, and pushes one webhook.delivered record on a 2xx', async () => {
    const c = command();
    const { outcome, log, retry, dead } = await deliver(c);
    expect(outcome).toBe('delivered');
    expect(posted).toHaveLength(1);
    expect(posted[0].body).toBe(c.body);
    expect(new Webhook(secret).verify(posted[0].body, posted[0].headers)).toEqual({ type: 'x' });
    expect(log).toEqual([expect.objectContaining({ step: 'webhook.delivered', status: 'ok', commandId: c.commandId, attempt: 1 })]);
    expect(retry).toEqual([]);
    expect(dead).toEqual([]);
  });

  it('pushes the retry with its due time and the attempt record on a 503 with Retry-After, nothing else', async () => {
    answer = { responseStatus: 503, responseHeaders: { 'retry-after': '3600' }, errorClass: 'http.status', error: 'HTTP 503' };
    const before = Date.now();
    const { outcome, log, retry, dead } = await deliver(command());
    expect(outcome).toBe('retry');
    expect(log).toEqual([expect.objectContaining({ step: 'webhook.attempt', status: 'failed', message: expect.stringContaining('Retry-After') })]);
    expect(retry).toHaveLength(1);
    const dueAt = Number(retry[0].headers![HEADERS.dueAt]);
    expect(dueAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(JSON.parse(String(retry[0].value))).toMatchObject({ attempt: 2, dueAt });
    expect(retry[0].key).toEqual(Buffer.from('k'));
    expect(dead).toEqual([]);
  });

  it('gives up on a 410 with the dead letter of the command as read', async () => {
    answer = { responseStatus: 410, errorClass: 'http.status', error: 'HTTP 410' };
    const { outcome, log, retry, dead } = await deliver(command());
    expect(outcome).toBe('gave_up');
    expect(log).toEqual([expect.objectContaining({ step: 'webhook.gave_up', message: expect.stringContaining('410') })]);
    expect(retry).toEqual([]);
    expect(dead).toHaveLength(1);
    expect(dead[0].value).toEqual(Buffer.from('v'));
    expect(String(dead[0].headers!['dlq-error-class'])).toBe('gone');
  });

  it('sends nothing for a deleted trigger, and records it cancelled', async () => {
    secrets = null;
    const { outcome, log } = await deliver(command());
    expect(outcome).toBe('cancelled');
    expect(posted).toEqual([]);
    expect(log).toEqual([expect.objectContaining({ step: 'webhook.gave_up', message: 'cancelled: the trigger was deleted', http: null })]);
  });

  it('refuses a URL that is not http(s) without a request', async () => {
    const { outcome, log } = await deliver(command({ url: 'ftp://hooks.example/in' }));
    expect(outcome).toBe('blocked');
    expect(posted).toEqual([]);
    expect(log).toEqual([expect.objectContaining({ step: 'webhook.blocked', message: 'blocked, not retried: not an http(s) URL' })]);
  });
});
