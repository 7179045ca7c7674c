import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Counter, Gauge } from 'prom-client';
import { AccessStore } from '@triggers/access';
import type { DispatcherConfig } from '@triggers/config';
import { HEADERS, LogRecord, WebhookCommand, logIdFor, newLogRecord, newWebhookCommand, triggerKey, webhookBody } from '@triggers/contracts';
import { BatchOutput, MessageSource, TransactionalHandler, TransactionalProcessor, readTopicRange } from '@triggers/kafka';
import { MongoHandle, connectMongoLazily } from '@triggers/mongo';
import { TransientError } from '@triggers/errors';
import { AppRuntime, consumerHealthCheck } from '@triggers/runtime';
import { EndpointHealth, HealthNotice, NOTIFICATION_ORIGIN, flushGaveUp, isEndpointAttempt, observeAttempt, prejudgeLogMessage } from './endpoint-health';

type Encoder = (value: unknown) => Buffer;
type States = Map<string, EndpointHealth>;

/** The log step each transition is recorded as (the given-up batches are told, not logged twice). */
const TRANSITION_STEPS: Partial<Record<HealthNotice['type'], { step: string; status: LogRecord['status'] }>> = {
  'trigger.endpoint.failing': { step: 'endpoint.failing', status: 'failed' },
  'trigger.endpoint.recovered': { step: 'endpoint.recovered', status: 'ok' },
};

/**
 * Each trigger's webhook endpoint health, kept from the log topic's attempt records and told once
 * per transition. A consume → produce processor of its own group over the log topic: for each log
 * partition it keeps the health of that partition's triggers (the log is keyed by trigger) in the
 * same partition of a compacted state topic, and commits the new state, the notifications (webhook
 * commands to the tenant's notifications URL) and the transition log records with the consumed
 * offsets in one transaction. A crash or a rebalance makes the next owner read the state as
 * committed and the records after it, so each transition is told exactly once across instances.
 */
@Injectable()
export class EndpointHealthProcessor implements TransactionalHandler<LogRecord>, OnApplicationBootstrap, OnApplicationShutdown {
  private processor?: TransactionalProcessor<LogRecord>;
  private stopping = false;
  private running?: Promise<void>;
  private mongo?: Promise<MongoHandle>;
  /** Where tenants' notifications go (their tenant documents), once MongoDB is connected. */
  private access?: Promise<AccessStore>;
  /** Per log partition, the health of its triggers as committed (loaded after this instance fenced its previous owner). */
  private readonly committedStates = new Map<number, Promise<States>>();
  /** Per log partition, the committed health once loaded (the same maps as `committedStates` resolve to). */
  private readonly loadedStates = new Map<number, States>();
  /** Per log partition, what the batch in progress changed and who holds given-up commands then (applied once its transaction commits). */
  private readonly batches = new Map<number, { states: States; held: Set<string> }>();
  private encoders?: { state: Encoder; command: Encoder; log: Encoder };
  private readonly notices: Counter;
  /** Per partition, triggers failing and all triggers kept (the gauge), and triggers holding given-up commands not yet told. */
  private readonly counts = new Map<number, { failing: number; all: number }>();
  private readonly heldBack = new Map<number, Set<string>>();

  constructor(private readonly rt: AppRuntime<DispatcherConfig>) {
    this.notices = new Counter({
      name: 'triggers_endpoint_health_notices_total',
      help: 'Endpoint health transitions told, by type (sent: whether the tenant has a notifications URL)',
      labelNames: ['type', 'sent'],
      registers: [rt.metrics],
    });
    const counts = this.counts;
    new Gauge({
      name: 'triggers_endpoint_health_triggers',
      help: "Triggers with webhook attempts, by their endpoint's health (failing or healthy), among this instance's log partitions",
      labelNames: ['state'],
      registers: [rt.metrics],
      collect() {
        let failing = 0;
        let all = 0;
        for (const c of counts.values()) {
          failing += c.failing;
          all += c.all;
        }
        this.set({ state: 'failing' }, failing);
        this.set({ state: 'healthy' }, all - failing);
      },
    });
    rt.health.register(consumerHealthCheck('endpointHealth', this.groupId, () => this.processor));
  }

  private get groupId(): string {
    return `${this.rt.config.groupId}-health`;
  }

  onApplicationBootstrap(): void {
    this.running = this.rt
      .keepStarting('the endpoint health processor', () => this.start(), { stopped: () => this.stopping, cleanup: async () => undefined })
      .then(() => undefined);
  }

  private async start(): Promise<void> {
    if (this.stopping) return;
    const { endpointHealth, webhookCommands, log } = this.rt.config.kafka.topics;
    await this.checkPartitions(log, endpointHealth);
    this.mongo ??= connectMongoLazily(this.rt.config.mongodbUri, this.rt.logger);
    this.access ??= this.mongo.then((m) => new AccessStore(m.db));
    this.processor = new TransactionalProcessor<LogRecord>({
      ...this.rt.consuming('log', this.groupId),
      transactionalIdPrefix: this.groupId,
      transactionTimeoutMs: this.rt.config.transactionTimeoutMs,
      outputTopics: [endpointHealth, webhookCommands, log],
      prejudge: prejudgeLogMessage,
      // Health is told within seconds, not milliseconds: a fetch waits up to 1 s for 1 MB, so a busy
      // log is read in big batches, each one transaction.
      maxWaitTimeInMs: 1000,
      minBytes: 1024 * 1024,
      handler: this,
    });
    await this.processor.start();
  }

  /** Each log partition's state goes to the same partition of the state topic, so it needs as many. */
  private async checkPartitions(log: string, state: string): Promise<void> {
    const admin = this.rt.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [log, state] });
      const count = (name: string) => topics.find((t) => t.name === name)?.partitions.length ?? 0;
      if (count(state) < count(log))
        throw new Error(
          `${state} has ${count(state)} partitions, fewer than the ${count(log)} of ${log}: each log partition's endpoint health is kept in the same partition of ${state}; give it at least as many`,
        );
    } finally {
      await admin.disconnect();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await this.processor?.stop();
    if (this.mongo) await (await this.mongo).client.close().catch(() => undefined);
  }

  /**
   * Partitions may have moved: every partition's health is read again before its next batch (it
   * may have been another instance's meanwhile); the gauge keeps the partitions still owned until then.
   */
  rejoined(assigned: Record<string, number[]>): void {
    const mine = new Set(assigned[this.rt.config.kafka.topics.log] ?? []);
    this.committedStates.clear();
    this.loadedStates.clear();
    for (const p of [...this.counts.keys()]) if (!mine.has(p)) this.counts.delete(p);
    for (const p of [...this.heldBack.keys()]) if (!mine.has(p)) this.heldBack.delete(p);
  }

  /** Loads a partition's health as soon as it is assigned and fenced, so the gauge counts its triggers before its next record. */
  partitionReady(source: MessageSource): void {
    void this.loaded(source.partition).catch(() => undefined);
  }

  async beginBatch(source: MessageSource): Promise<void> {
    if (!this.encoders) {
      const serde = this.rt.serde;
      this.encoders = {
        state: await serde.encoderFor('endpointHealth'),
        command: await serde.encoderFor('webhookCommands'),
        log: await serde.encoderFor('log'),
      };
    }
    await this.loaded(source.partition);
    this.committedOf(source.partition);
    this.batches.set(source.partition, { states: new Map(), held: new Set(this.heldBack.get(source.partition)) });
  }

  /**
   * A partition's committed health as loaded in this generation. After a rejoin it is read again:
   * the batch waits (a transient error), or is abandoned for its new owner.
   */
  private committedOf(partition: number): States {
    const states = this.loadedStates.get(partition);
    if (!states)
      throw new TransientError(`endpoint health of log partition ${partition} is read again after a rebalance`, {
        dependency: 'kafka',
        code: 'health.reloading',
      });
    return states;
  }

  /** A partition's committed health, read once per generation (a load that failed is tried again by the next call). */
  private loaded(partition: number): Promise<States> {
    let loaded = this.committedStates.get(partition);
    if (!loaded) {
      const load = this.load(partition);
      this.committedStates.set(partition, load);
      // Only the load of the current generation counts: one begun before a rejoin is dropped.
      const current = () => this.committedStates.get(partition) === load;
      load.then(
        (states) => {
          if (!current()) return;
          this.loadedStates.set(partition, states);
          this.summarize(partition, states);
        },
        () => {
          if (current()) this.committedStates.delete(partition);
        },
      );
      loaded = load;
    }
    return loaded;
  }

  /**
   * The committed health of one partition's triggers: its state partition read to its end. The
   * engine connected this partition's transactional producer before the batch began, which fenced
   * a previous owner and ended its open transaction, so what is read is final.
   */
  private async load(partition: number): Promise<States> {
    const started = Date.now();
    const states: States = new Map();
    const serde = this.rt.serde;
    await readTopicRange(this.rt.kafka, this.rt.config.kafka.topics.endpointHealth, { partitions: [partition] }, async (m) => {
      const key = m.key?.toString() ?? '';
      if (m.value === null) {
        states.delete(key);
        return;
      }
      states.set(key, (await serde.decode<EndpointHealth>(m.value)).value);
    });
    this.rt.logger.info({ partition, triggers: states.size, ms: Date.now() - started, groupId: this.groupId }, 'endpoint health of a log partition loaded');
    return states;
  }

  async handle(record: LogRecord, _m: KafkaMessage, source: MessageSource, out: BatchOutput): Promise<void> {
    const committed = this.committedOf(source.partition);
    const { states: batch, held } = this.batches.get(source.partition)!;
    const policy = this.rt.config.health;
    const notices: { key: string; health: EndpointHealth; notice: HealthNotice }[] = [];
    const changed = new Map<string, EndpointHealth>();
    if (isEndpointAttempt(record)) {
      const key = triggerKey(record.tenantId, record.triggerId!);
      const { next, notices: made } = observeAttempt(batch.get(key) ?? committed.get(key), record, policy);
      changed.set(key, next);
      for (const notice of made) notices.push({ key, health: next, notice });
    }
    // Given-up commands held back by the 10-minute rule are told once their time has come.
    for (const key of held) {
      if (changed.has(key)) continue;
      const current = { ...(batch.get(key) ?? committed.get(key)!) };
      const notice = flushGaveUp(current, record.time, policy);
      if (!notice) continue;
      changed.set(key, current);
      notices.push({ key, health: current, notice });
    }
    if (changed.size === 0) return;
    const urls = new Map<string, string | null>();
    for (const { health } of notices) {
      if (!urls.has(health.tenantId)) urls.set(health.tenantId, await this.notificationsUrlOf(health.tenantId));
    }
    const { webhookCommands, log } = this.rt.config.kafka.topics;
    const enc = this.encoders!;
    for (const { key, health, notice } of notices) {
      const url = urls.get(health.tenantId) ?? null;
      const logged = TRANSITION_STEPS[notice.type];
      if (logged) {
        const logId = logIdFor(notice.id, logged.step);
        const rec = newLogRecord({
          logId,
          tenantId: health.tenantId,
          triggerId: health.triggerId,
          eventId: notice.id,
          eventType: notice.type,
          commandId: null,
          step: logged.step,
          status: logged.status,
          time: notice.at,
          attempt: null,
          origin: NOTIFICATION_ORIGIN,
          message: messageOf(notice, url),
          http: null,
          nextDueAt: null,
          traceId: null,
        });
        out.push(log, { key, value: enc.log(rec), headers: { [HEADERS.correlationId]: notice.id, [HEADERS.logStep]: logged.step, [HEADERS.logId]: logId } });
      }
      if (url) {
        const command: WebhookCommand = {
          ...newWebhookCommand({
            tenantId: health.tenantId,
            triggerId: health.triggerId,
            eventId: notice.id,
            eventType: notice.type,
            actionIndex: 0,
            url,
            body: webhookBody(notice.type, { tenantId: health.tenantId, ...notice.payload }),
            origin: NOTIFICATION_ORIGIN as WebhookCommand['origin'],
            now: notice.at,
          }),
          commandId: notice.id,
        };
        out.push(webhookCommands, { key, value: enc.command(command), headers: { [HEADERS.correlationId]: notice.id } });
      }
    }
    for (const [key, h] of changed) {
      batch.set(key, h);
      if (h.gaveUpPending > 0) held.add(key);
      else held.delete(key);
    }
    for (const { health, notice } of notices) {
      const sent = urls.get(health.tenantId) !== null;
      this.notices.inc({ type: notice.type, sent: String(sent) });
      this.rt.logger.info(
        { ...source, tenantId: health.tenantId, triggerId: health.triggerId, notice: notice.type, noticeId: notice.id, sent, state: health.state },
        sent ? 'endpoint health notice made; sent to the notifications URL' : 'endpoint health notice made; the tenant has no notifications URL',
      );
    }
  }

  /** Each trigger's health as the batch left it, once per batch, in the log partition's own partition of the state topic. */
  endBatch(source: MessageSource, out: BatchOutput): void {
    const batch = this.batches.get(source.partition);
    if (!batch) return;
    const topic = this.rt.config.kafka.topics.endpointHealth;
    for (const [key, h] of batch.states) out.push(topic, { key, value: this.encoders!.state(h), partition: source.partition });
  }

  /** The batch's changes become the committed health; the triggers holding given-up commands are a set kept as it goes (never a scan of every trigger). */
  committed(source: MessageSource): void {
    const batch = this.batches.get(source.partition);
    const states = this.loadedStates.get(source.partition);
    if (!batch || !states || batch.states.size === 0) return;
    const counts = this.counts.get(source.partition) ?? { failing: 0, all: 0 };
    for (const [key, h] of batch.states) {
      const before = states.get(key);
      counts.failing += (h.state === 'failing' ? 1 : 0) - (before?.state === 'failing' ? 1 : 0);
      if (!before) counts.all += 1;
      states.set(key, h);
    }
    this.counts.set(source.partition, counts);
    this.heldBack.set(source.partition, batch.held);
  }

  private summarize(partition: number, states: States): void {
    const values = [...states];
    this.counts.set(partition, { failing: values.filter(([, h]) => h.state === 'failing').length, all: values.length });
    this.heldBack.set(partition, new Set(values.filter(([, h]) => h.gaveUpPending > 0).map(([key]) => key)));
  }

  private async notificationsUrlOf(tenantId: string): Promise<string | null> {
    return (await this.access!).notificationsUrlOf(tenantId);
  }
}

function messageOf(notice: HealthNotice, url: string | null): string {
  const told = url ? 'told to the notifications URL' : 'no notifications URL is set';
  const p = notice.payload as {
    rule?: string;
    consecutiveFailures?: number;
    window?: { attempts: number; failed: number; minutes: number };
    lastError?: string;
    failingSince?: number;
  };
  if (notice.type === 'trigger.endpoint.failing') {
    const why =
      p.rule === 'success-ratio' && p.window
        ? `${p.window.failed} of ${p.window.attempts} attempts failed in the last ${p.window.minutes} minutes`
        : `${p.consecutiveFailures} failed attempts in a row`;
    return `${why}, the last ${p.lastError}; ${told}`;
  }
  return `delivered again, after failing since ${new Date(p.failingSince ?? notice.at).toISOString()}; ${told}`;
}
