import { ConfigError } from './config-error';
import { loadBaseConfig, loadWebhookTimingConfig } from './app-config';
import { loadInfraConfig } from './infra-config';

describe('loadBaseConfig', () => {
  it('uses the documented local defaults when nothing is set', () => {
    const config = loadBaseConfig('matcher', {}, 3001);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.mongodbUri).toBe('mongodb://127.0.0.1:27017/triggers');
    expect(config.port).toBe(3001);
    expect(config.kafka.topics.webhookCommands).toBe('triggers.commands.webhook.v1');
    expect(config.kafka.topics['events.agent.wrap']).toBe('triggers.events.agent.wrap.v1');
    expect(config.kafka.clientId).toBe('triggers-matcher');
  });

  it('names the variable that is wrong, with what it got', () => {
    expect(() => loadBaseConfig('matcher', { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadBaseConfig('matcher', { PORT: 'eighty' })).toThrow(/PORT: .*got "eighty"/);
    expect(() => loadBaseConfig('matcher', { MONGODB_URI: 'postgres://x' })).toThrow(/MONGODB_URI: must be a mongodb/);
    expect(() => loadBaseConfig('matcher', { SCHEMA_REGISTRY_URL: 'registry:8081' })).toThrow(/SCHEMA_REGISTRY_URL/);
  });

  it('reports every bad variable at once', () => {
    try {
      loadBaseConfig('api', { PORT: '-1', LOG_LEVEL: 'loud', TOPIC_PARTITIONS: '0' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['LOG_LEVEL', 'PORT', 'TOPIC_PARTITIONS']);
    }
  });

  it('requires SASL credentials once a mechanism is set', () => {
    expect(() => loadBaseConfig('api', { KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/KAFKA_SASL_USERNAME: required/);
    const config = loadBaseConfig('api', {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      KAFKA_SSL: 'true',
    });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(config.kafka.ssl).toBe(true);
  });

  it('swaps the topic namespace and applies single-topic overrides', () => {
    const config = loadBaseConfig('api', { TOPIC_NAMESPACE: 'ci42', TOPIC_WEBHOOK_COMMANDS: 'custom.webhooks' });
    expect(config.kafka.topics.log).toBe('ci42.log.v1');
    expect(config.kafka.topics.webhookCommands).toBe('custom.webhooks');
    expect(() => loadBaseConfig('api', { TOPIC_LOG: 'bad topic!' })).toThrow(/TOPIC_LOG/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadBaseConfig('api', { PORT: '' }, 3000).port).toBe(3000);
  });
});

describe('loadWebhookTimingConfig', () => {
  it("defaults to the spec's 10-minute tier and 48-hour window", () => {
    const t = loadWebhookTimingConfig({});
    expect(t.retryDelayMs).toBe(600_000);
    expect(t.retryWindowMs).toBe(172_800_000);
    expect(t.maxResponseBytes).toBe(10_240);
  });

  it('accepts compressed timings and rejects nonsense', () => {
    expect(loadWebhookTimingConfig({ WEBHOOK_RETRY_DELAY_MS: '500' }).retryDelayMs).toBe(500);
    expect(() => loadWebhookTimingConfig({ WEBHOOK_RETRY_WINDOW_MS: '2 days' })).toThrow(/WEBHOOK_RETRY_WINDOW_MS/);
  });
});

describe('loadInfraConfig', () => {
  it('keeps the local and test profiles on different ports and data folders', () => {
    const local = loadInfraConfig({}, '/repo', 'local');
    const test = loadInfraConfig({}, '/repo', 'test');
    expect(local.kafka.port).not.toBe(test.kafka.port);
    expect(local.registry.port).not.toBe(test.registry.port);
    expect(local.mongo.port).not.toBe(test.mongo.port);
    expect(local.dataDir).toBe('/repo/.infra/local');
    expect(test.dataDir).toBe('/repo/.infra/test');
  });

  it('names a bad heap size', () => {
    expect(() => loadInfraConfig({ INFRA_KAFKA_HEAP: 'lots' }, '/repo')).toThrow(/INFRA_KAFKA_HEAP/);
  });
});
