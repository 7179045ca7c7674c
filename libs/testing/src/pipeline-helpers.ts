import { randomBytes, randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { createIdempotentProducer } from '@triggers/kafka';
import { SecretBox, parseSecretsKey, secretContext } from '@triggers/secrets';
import type { Db } from 'mongodb';
import {
  EventType,
  LeadCommand,
  LogRecord,
  NewWebhookCommand,
  RecordTopicKey,
  TriggerConfigRecord,
  WebhookCommand,
  commandIdFor,
  eventKey,
  eventTopicKeyOf,
  leadKey,
  newWebhookCommand,
  triggerKey,
} from '@triggers/contracts';
import { importLeads, importLists } from '@triggers/mongo';
import type { TestContext } from './test-context';
import { uniqueId } from './test-context';
import { waitFor } from '@triggers/local-infra';

/**
 * A tenant's leads store ready for moves: list 100 ("New") and 445 ("Callback") of campaign 1695,
 * and `leadIds` on list 100.
 */
export async function seedMovableLeads(db: Db, tenantId: string, leadIds: string[]): Promise<void> {
  await importLists(db, tenantId, [
    { listId: '100', campaignId: '1695', name: 'New' },
    { listId: '445', campaignId: '1695', name: 'Callback' },
  ]);
  await importLeads(
    db,
    tenantId,
    leadIds.map((leadId) => ({ leadId, campaignId: '1695', listId: '100' })),
  );
}

/** Commands moving each of `leadIds` to list 445, as the matcher makes them for trigger `mover` (event ids `<prefix>-<i>`). */
export function moveCommands(tenantId: string, leadIds: string[], prefix: string): LeadCommand[] {
  return leadIds.map((leadId, i) => ({
    commandId: commandIdFor(`${prefix}-${i}`, 'mover', 0),
    tenantId,
    triggerId: 'mover',
    eventId: `${prefix}-${i}`,
    eventType: 'agent.wrap',
    leadId,
    campaignId: '1695',
    toListId: '445',
  }));
}

/** A signing secret as the API issues them. */
export function newTestSecret(): { id: string; secret: string; notAfter: number | null } {
  return { id: `sec_${randomBytes(6).toString('hex')}`, secret: `whsec_${randomBytes(24).toString('base64')}`, notAfter: null };
}

/** Produces events and trigger config records into a test context, as platform services and the API do. */
export class PipelineDriver {
  private producer?: Promise<Producer>;
  private transactional?: Promise<Producer>;
  private transactionalId?: string;

  constructor(private readonly ctx: TestContext) {}

  /** The driver's producer, connected once however many callers ask at the same time. */
  private connect(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = createIdempotentProducer(this.ctx.kafka);
      await producer.connect();
      return producer;
    })();
    return this.producer;
  }

  /** Publishes an event in its envelope; returns its eventId. */
  async event(tenantId: string, event: { type: EventType; payload: unknown }, eventId: string = randomUUID()): Promise<string> {
    await this.events(tenantId, [event], () => eventId);
    return eventId;
  }

  /** Publishes many events in batches; returns their eventIds in order. */
  async events(tenantId: string, events: { type: EventType; payload: unknown }[], id: (i: number) => string = () => randomUUID()): Promise<string[]> {
    const producer = await this.connect();
    const ids: string[] = [];
    for (let start = 0; start < events.length; start += 1000) {
      const slice = events.slice(start, start + 1000);
      ids.push(...slice.map((_, j) => id(start + j)));
      await producer.sendBatch({ topicMessages: await this.eventMessages(tenantId, slice, ids.slice(start)) });
    }
    return ids;
  }

  /**
   * Publishes events all or none, in one transaction: a send refused part way (a broker stopping)
   * leaves nothing a read_committed reader sees, so it can be sent again whole without writing any
   * event twice. A retried send of the idempotent producer would write again what was accepted.
   * A commit whose answer was lost (its coordinator killed after it decided) is known by how the
   * coordinator recorded the transaction: it resolves then, as the send did go through.
   */
  async eventsAtomically(tenantId: string, events: { type: EventType; payload: unknown }[], ids: string[]): Promise<void> {
    const transactionalId = (this.transactionalId ??= `test-events-${randomUUID()}`);
    this.transactional ??= (async () => {
      const producer = this.ctx.kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      return producer;
    })();
    this.transactional.catch(() => (this.transactional = undefined));
    const transaction = await (await this.transactional).transaction();
    let committing = false;
    try {
      for (const batch of await this.eventMessages(tenantId, events, ids)) await transaction.send(batch);
      committing = true;
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      // A fresh producer next time: this one may be fenced or in an unknown state.
      const stale = this.transactional;
      this.transactional = undefined;
      await (await stale?.catch(() => undefined))?.disconnect();
      // Every send went through, so the coordinator holds this transaction: did the commit reach it?
      if (committing && (await this.committedAfterAll(transactionalId))) return;
      throw err;
    }
  }

  /** Whether the coordinator recorded the id's last transaction as committed (asked for up to 30 s while it is unavailable). */
  private async committedAfterAll(transactionalId: string): Promise<boolean> {
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        const [described] = await this.ctx.admin.describeTransactions([transactionalId]);
        return described?.state === 'PrepareCommit' || described?.state === 'CompleteCommit';
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** The events' messages by topic, in their envelopes, keyed by tenant and event id. */
  private async eventMessages(tenantId: string, events: { type: EventType; payload: unknown }[], ids: string[]) {
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const eventId = ids[i];
      const topic = this.ctx.config.kafka.topics[eventTopicKeyOf(e.type)];
      const value = await this.ctx.serde.encode(eventTopicKeyOf(e.type), { tenantId, eventId, type: e.type, payload: e.payload });
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic)!.push({ key: eventKey(tenantId, eventId), value });
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  /** Sends raw bytes to a topic (for poison-message tests). */
  async raw(topic: string, value: Buffer | null, key = 'raw'): Promise<void> {
    await (await this.connect()).send({ topic, messages: [{ key, value }] });
  }

  /**
   * Publishes a trigger on the config topic as the API does (a null trigger is a tombstone). Like
   * the API's, it has a signing secret unless `webhookSecrets` says otherwise: the dispatcher
   * holds the webhooks of a trigger without one.
   */
  async trigger(
    tenantId: string,
    triggerId: string,
    record:
      (Omit<TriggerConfigRecord, 'tenantId' | 'triggerId' | 'updatedAt' | 'webhookSecrets'> & Partial<Pick<TriggerConfigRecord, 'webhookSecrets'>>) | null,
  ): Promise<void> {
    const topic = this.ctx.config.kafka.topics.triggerConfig;
    // Sealed with the context's SECRETS_KEY as the API seals them; tests sign-check with the plain ones.
    const box = new SecretBox({ current: parseSecretsKey(this.ctx.env.SECRETS_KEY), previous: [] });
    const sealed = (record?.webhookSecrets ?? [newTestSecret()]).map((s) => ({
      ...s,
      secret: SecretBox.isSealed(s.secret) ? s.secret : box.seal(s.secret, secretContext(tenantId, triggerId, s.id)),
    }));
    const value = record
      ? await this.ctx.serde.encode('triggerConfig', { ...record, webhookSecrets: sealed, tenantId, triggerId, updatedAt: Date.now() })
      : null;
    await (await this.connect()).send({ topic, messages: [{ key: triggerKey(tenantId, triggerId), value }] });
  }

  /**
   * A fresh tenant with one enabled agent.wrap trigger whose one action posts to `url` (signed
   * with `webhookSecrets`, a fresh test secret unless given), on the config topic.
   */
  async webhookTrigger(url: string, webhookSecrets?: TriggerConfigRecord['webhookSecrets']): Promise<{ tenantId: string; triggerId: string }> {
    const tenantId = uniqueId('tenant');
    const triggerId = uniqueId('trigger');
    await this.trigger(tenantId, triggerId, {
      version: 1,
      name: 'webhook on every wrap',
      eventType: 'agent.wrap',
      enabled: true,
      conditions: [],
      actions: [{ action: 'webhook', parameters: { url } }],
      webhookSecrets,
    });
    return { tenantId, triggerId };
  }

  /** Publishes webhook commands as the matcher does, keyed by tenant and trigger (or `key`). */
  webhookCommands(commands: WebhookCommand[], key?: string): Promise<void> {
    return this.records('webhookCommands', commands, (c) => key ?? triggerKey(c.tenantId, c.triggerId));
  }

  /** Publishes lead commands as the matcher does, keyed by tenant and lead. */
  leadCommands(commands: LeadCommand[]): Promise<void> {
    return this.records('leadCommands', commands, (c) => leadKey(c.tenantId, c.leadId));
  }

  /** Publishes log records as the apps do, keyed by tenant and trigger. */
  logRecords(records: LogRecord[]): Promise<void> {
    return this.records('log', records, (r) => triggerKey(r.tenantId, r.triggerId!));
  }

  private async records<T>(topicKey: RecordTopicKey, items: T[], keyOf: (item: T) => string): Promise<void> {
    const producer = await this.connect();
    const topic = this.ctx.config.kafka.topics[topicKey];
    for (let start = 0; start < items.length; start += 1000) {
      const messages = await Promise.all(
        items.slice(start, start + 1000).map(async (c) => ({ key: keyOf(c), value: await this.ctx.serde.encode(topicKey, c) })),
      );
      await producer.send({ topic, messages });
    }
  }

  async close(): Promise<void> {
    await (await this.producer?.catch(() => undefined))?.disconnect();
    await (await this.transactional?.catch(() => undefined))?.disconnect();
  }
}

/**
 * Reads a topic with `read_committed` from the beginning and decodes every message, keeping those
 * `where` accepts, until at least `expected` were kept and then nothing new for `quietMs` (so
 * duplicates would show too).
 */
export async function readDecoded<T>(
  ctx: TestContext,
  topic: string,
  {
    expected,
    where = () => true,
    timeoutMs = 60_000,
    quietMs = 1500,
  }: { expected: number; where?: (value: T) => boolean; timeoutMs?: number; quietMs?: number },
): Promise<{ value: T; key: string | null; headers: Record<string, string> }[]> {
  const consumer = ctx.kafka.consumer({ groupId: uniqueId('reader'), maxWaitTimeInMs: 200 });
  const raw: { value: T; key: string | null; headers: Record<string, string> }[] = [];
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const value = (message.value ? (await ctx.serde.decode<T>(message.value)).value : null) as T;
        if (!where(value)) return;
        raw.push({
          value,
          key: message.key?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
        last = Date.now();
      },
    });
    await waitFor(() => raw.length >= expected && Date.now() - last >= quietMs, {
      timeoutMs,
      intervalMs: 100,
      description: `${expected} messages on ${topic} (have ${raw.length})`,
    }).catch((err: Error) => {
      if (raw.length < expected) throw new Error(`${err.message}; got ${raw.length}`);
    });
  } finally {
    await consumer.disconnect();
  }
  return raw;
}

/** Waits until consumer group `groupId` is stable with exactly `members` members (every one has its partitions). */
export async function waitForStableGroup(ctx: TestContext, groupId: string, members: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const { groups } = await ctx.admin.describeGroups([groupId]);
      return groups[0]?.state === 'Stable' && groups[0].members.length === members;
    },
    { timeoutMs, intervalMs: 200, description: `${members} members of ${groupId}, stable` },
  );
}

/** Waits until consumer group `groupId` has committed offsets at the end of every partition of `topic`. */
export async function waitForConsumed(ctx: TestContext, groupId: string, topic: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const ends = await ctx.admin.fetchTopicOffsets(topic);
      const [committed] = await ctx.admin.fetchOffsets({ groupId, topics: [topic] });
      return ends.every((e) => {
        const c = committed.partitions.find((p) => p.partition === e.partition);
        return e.high === '0' || (c !== undefined && BigInt(c.offset) >= BigInt(e.high));
      });
    },
    { timeoutMs, intervalMs: 100, description: `group ${groupId} to consume all of ${topic}` },
  );
}

/**
 * A first-attempt webhook command for tests: an agent.wrap event's action 0 for tenant `t`,
 * trigger `tr`, posting `{}` to https://hooks.example/, made now; `fields` say what differs.
 */
export function testWebhookCommand(fields: Partial<NewWebhookCommand> & Pick<NewWebhookCommand, 'eventId'>): WebhookCommand {
  return newWebhookCommand({
    tenantId: 't',
    triggerId: 'tr',
    eventType: 'agent.wrap',
    actionIndex: 0,
    url: 'https://hooks.example/',
    body: '{}',
    origin: 'event',
    now: Date.now(),
    ...fields,
  });
}
