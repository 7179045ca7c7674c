import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { EventType, commandIdFor, eventTopicKeyOf } from '@triggers/contracts';
import { readTopicRange } from '@triggers/kafka';
import { EVENT_LOGS_COLLECTION, LEADS_COLLECTION, LeadDocument } from '@triggers/mongo';
import {
  ApiClient,
  PipelineDriver,
  TestContext,
  WebhookReceiver,
  countRecords,
  seedMovableLeads,
  specPayload,
  startWebhookReceiver,
  uniqueId,
  waitFor,
} from '@triggers/testing';

/** A small seeded PRNG (mulberry32), so a failing run replays with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The four consumer apps a system suite kills, restarts and scales. */
export const CONSUMERS = ['matcher', 'webhook-dispatcher', 'lead-mover', 'log-sink'] as const;
export type Consumer = (typeof CONSUMERS)[number];

/** The run's seed: `<seedVariable>` when set (a replay), else a fresh one. */
export function runSeed(seedVariable: string): number {
  return Number(process.env[seedVariable] ?? Math.floor(Math.random() * 2 ** 31));
}

/**
 * The system suites' workload and its exact accounting: one tenant with a webhook trigger on
 * `agent.wrap` (campaign 1695), one on `mpiq.attempt` (campaigns 215, 223) and a lead mover on the
 * wraps; `wraps` wrap events (each a movable lead) and `attempts` attempt events in a seeded
 * order; a receiver that fails about one webhook in ten on its first attempt (decided by its id,
 * so repeats agree). {@link expectExactAccounting} then checks every webhook once with a valid
 * signature and stable body, one `matched` per event and trigger, one `webhook.delivered` per
 * command, one `lead.moved` per lead, and no dead letter.
 */
export class PipelineScenario {
  readonly tenantId = uniqueId('tenant');
  receiver!: WebhookReceiver;
  /** When each event was produced (epoch ms, the first time), by event id. */
  readonly producedAt = new Map<string, number>();
  private readonly secrets = new Map<string, string>();
  private readonly hookOf = new Map<string, string>();
  readonly events: { id: string; event: { type: string; payload: unknown } }[];
  readonly leadIds: string[];

  constructor(
    private readonly ctx: TestContext,
    readonly seed: number,
    random: () => number,
    readonly sizes = { wraps: 1500, attempts: 500 },
  ) {
    this.leadIds = Array.from({ length: sizes.wraps }, (_, i) => String(800_000 + i));
    const wrap = specPayload('agent-wrap-inbound.json').event;
    const mpiq = specPayload('mpiq-attempt.json').event;
    this.events = [
      ...this.leadIds.map((leadId, i) => ({
        id: `wrap-${seed}-${i}`,
        event: { type: wrap.type, payload: { ...(wrap.payload as object), leadId, campaignId: '1695' } },
      })),
      ...Array.from({ length: sizes.attempts }, (_, i) => ({
        id: `mpiq-${seed}-${i}`,
        event: { type: mpiq.type, payload: { ...(mpiq.payload as object), campaign_id: '223' } },
      })),
    ].sort(() => random() - 0.5);
  }

  /** True when the receiver answers this webhook's first attempt with 503. */
  failsFirst(webhookId: string): boolean {
    return createHash('sha256').update(`${this.seed}:${webhookId}`).digest()[0] < 26;
  }

  async startReceiver(): Promise<void> {
    this.receiver = await startWebhookReceiver((req) => {
      const id = req.headers['webhook-id'];
      const earlier = this.receiver?.received.filter((r) => r.headers['webhook-id'] === id).length ?? 0;
      return this.failsFirst(id) && earlier === 0 ? { status: 503, body: 'try later' } : { status: 200, body: 'ok' };
    });
  }

  /**
   * Creates the three triggers through the API (which owns the config topic: its reconciler would
   * delete a trigger written there behind its back) and seeds the movable leads.
   */
  async createTriggers(client: ApiClient): Promise<void> {
    const webhook = (name: string, eventType: string, campaigns: string) =>
      client.post('/v1/triggers', {
        name,
        eventType,
        enabled: true,
        parameters: JSON.stringify({
          conditions: [{ reference: 'campaignId', operator: 'in', value: campaigns }],
          actions: [{ action: 'webhook', parameters: { url: `${this.receiver.url}/hook` } }],
        }),
      });
    const wrapHook = await webhook('wraps', 'agent.wrap', '1695');
    const mpiqHook = await webhook('attempts', 'mpiq.attempt', '215, 223');
    const mover = await client.post('/v1/triggers', {
      name: 'move wraps',
      eventType: 'agent.wrap',
      enabled: true,
      parameters: JSON.stringify({
        conditions: [{ reference: 'campaignId', operator: '=', value: '1695' }],
        actions: [{ action: 'lead.update.list', parameters: { 'lead.listId': '445' } }],
      }),
    });
    for (const r of [wrapHook, mpiqHook, mover]) expect(r.status).toBe(201);
    for (const e of this.events) {
      const hook = e.id.startsWith('wrap') ? wrapHook.body : mpiqHook.body;
      const commandId = commandIdFor(e.id, hook.id, 0);
      this.hookOf.set(commandId, e.id);
      this.secrets.set(commandId, hook.webhookSecret);
    }
    await seedMovableLeads((await this.ctx.mongo()).db, this.tenantId, this.leadIds);
  }

  /**
   * Produces the events `batch` at a time, `pauseMs` apart, each batch in a transaction. A batch
   * refused while brokers restart is sent again until it is accepted; the transaction keeps the
   * part accepted before the refusal from being read, so no event is on its topic twice (an event
   * sent twice makes its webhook command twice, each with its own first-attempt time, and two
   * webhook.delivered records).
   */
  async produce(driver: PipelineDriver, { batch = 50, pauseMs = 1500 } = {}): Promise<void> {
    for (let i = 0; i < this.events.length; i += batch) {
      const slice = this.events.slice(i, i + batch);
      const at = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await driver.eventsAtomically(
            this.tenantId,
            slice.map((e) => e.event as never),
            slice.map((e) => e.id),
          );
          break;
        } catch (err) {
          if (attempt >= 30) throw err;
          process.stderr.write(`[scenario] events ${i}-${i + slice.length - 1} refused (${(err as Error).message}); sending them again\n`);
          await sleep(1000);
        }
      }
      for (const e of slice) if (!this.producedAt.has(e.id)) this.producedAt.set(e.id, at);
      await sleep(pauseMs);
    }
  }

  /** Webhook ids received so far that belong to this run. */
  delivered(): Set<string> {
    return new Set(this.receiver.received.filter((r) => this.hookOf.has(r.headers['webhook-id'])).map((r) => r.headers['webhook-id']));
  }

  /**
   * Event → webhook latencies (ms) of the webhooks whose first attempt succeeded and whose event
   * was produced inside [from, to): for a percentile before and during a fault.
   */
  latencies(from: number, to: number): number[] {
    const first = new Map<string, number>();
    for (const r of this.receiver.received) {
      const id = r.headers['webhook-id'];
      if (this.hookOf.has(id) && !first.has(id)) first.set(id, r.at);
    }
    const out: number[] = [];
    for (const [id, at] of first) {
      const produced = this.producedAt.get(this.hookOf.get(id)!);
      if (produced === undefined || produced < from || produced >= to || this.failsFirst(id)) continue;
      out.push(at - produced);
    }
    return out;
  }

  /** Requests beyond what the receiver asked for (one per webhook, two for one failed first): repeats after a crash or a hand-over. */
  repeats(): { id: string; at: number }[] {
    const seen = new Map<string, number>();
    const out: { id: string; at: number }[] = [];
    for (const r of this.receiver.received) {
      const id = r.headers['webhook-id'];
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      if (n > (this.failsFirst(id) ? 2 : 1)) out.push({ id, at: r.at });
    }
    return out;
  }

  /** Waits (up to `timeoutMs` each) for every webhook, every lead moved and every record in MongoDB. */
  async awaitEverything(timeoutMs = 180_000): Promise<void> {
    await waitFor(() => this.delivered().size === this.hookOf.size, {
      timeoutMs,
      intervalMs: 500,
      description: `every webhook (have ${this.delivered().size} of ${this.hookOf.size})`,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await this.diagnose()}`);
    });
    const db = (await this.ctx.mongo()).db;
    const leads = db.collection<LeadDocument>(LEADS_COLLECTION);
    await waitFor(async () => (await leads.countDocuments({ tenantId: this.tenantId, listId: '445' })) === this.sizes.wraps, {
      timeoutMs,
      intervalMs: 500,
      description: 'every lead moved',
    });
    const expected = this.sizes.wraps + this.sizes.attempts;
    let seen = '';
    await waitFor(
      async () => {
        const [hooks, moves] = [await this.countOf('webhook.delivered'), await this.countOf('lead.moved')];
        seen = `webhook.delivered ${hooks} of ${expected}, lead.moved ${moves} of ${this.sizes.wraps}`;
        return hooks === expected && moves === this.sizes.wraps;
      },
      { timeoutMs, intervalMs: 1000, description: 'every record in MongoDB' },
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${seen})`);
    });
  }

  /**
   * Where the webhooks not yet received stopped: their commands on the commands and retry topics,
   * their log records in MongoDB, and every consumer group's lag, for a failed run's message.
   */
  async diagnose(): Promise<string> {
    const got = this.delivered();
    const missing = new Set([...this.hookOf.keys()].filter((id) => !got.has(id)));
    const topics = this.ctx.config.kafka.topics;
    const missingEvents = new Set([...missing].map((id) => this.hookOf.get(id)!));
    const t0 = Math.min(...this.producedAt.values());
    const lines = [
      `${missing.size} webhooks missing, e.g. ${[...missing].slice(0, 3).join(', ')}`,
      `their events produced at (s from the first): ${[...missingEvents].map((e) => ((this.producedAt.get(e)! - t0) / 1000).toFixed(1)).join(' ')}`,
    ];
    const eventTopics = [...new Set(this.events.map((e) => topics[eventTopicKeyOf(e.event.type as EventType)]))];
    for (const topic of [...eventTopics, topics.webhookCommands, topics.webhookRetry]) {
      const seen = new Map<number, number>();
      await readTopicRange(this.ctx.kafka, topic, {}, async (message, partition) => {
        if (!message.value) return;
        const { value } = await this.ctx.serde.decode<{ commandId?: string; eventId?: string }>(message.value);
        if ((value.commandId ?? value.eventId) && (missing.has(value.commandId!) || missingEvents.has(value.eventId!)))
          seen.set(partition, (seen.get(partition) ?? 0) + 1);
      });
      lines.push(`${topic}: ${[...seen].map(([p, n]) => `partition ${p}: ${n}`).join(', ') || 'none of them'}`);
    }
    const db = (await this.ctx.mongo()).db;
    const steps = await db
      .collection(EVENT_LOGS_COLLECTION)
      .aggregate<{ _id: string; n: number }>([
        { $match: { tenantId: this.tenantId, eventId: { $in: [...missing].map((id) => this.hookOf.get(id)!) } } },
        { $group: { _id: '$step', n: { $sum: 1 } } },
      ])
      .toArray();
    lines.push(`their events' records in MongoDB: ${steps.map((s) => `${s._id} ${s.n}`).join(', ') || 'none'}`);
    const { groups } = await this.ctx.admin.listGroups();
    for (const { groupId } of groups.filter((g) => g.groupId.includes(this.ctx.namespace))) {
      const lag: string[] = [];
      for (const t of await this.ctx.admin.fetchOffsets({ groupId })) {
        const ends = await this.ctx.admin.fetchTopicOffsets(t.topic);
        for (const p of t.partitions) {
          const end = ends.find((e) => e.partition === p.partition)?.high ?? '?';
          if (p.offset !== end) lag.push(`${t.topic}[${p.partition}] at ${p.offset} of ${end}`);
        }
      }
      lines.push(`group ${groupId}: ${lag.join(', ') || 'at the end of every partition'}`);
    }
    return lines.join('\n');
  }

  /**
   * Where commands recorded as delivered more than once came from: every record of their events,
   * commands and retries on the topics (read committed), with partition, offset, time and the
   * command's first-attempt time, and every log record of theirs on the log topic. Two records of
   * one event are a producer's resend; one event with two commands, a repeated match; one command
   * with two delivered records, a repeated delivery.
   */
  async diagnoseRepeats(commandIds: string[]): Promise<string> {
    const topics = this.ctx.config.kafka.topics;
    const ids = new Set(commandIds);
    const lines = [`${ids.size} command(s) recorded as delivered more than once: ${[...ids].join(', ')}`];
    const db = (await this.ctx.mongo()).db;
    const stored = await db
      .collection<{ commandId: string; eventId: string; step: string; logId: string; attempt: number; time: Date }>(EVENT_LOGS_COLLECTION)
      .find({ tenantId: this.tenantId, commandId: { $in: [...ids] } })
      .toArray();
    const events = new Set(stored.map((r) => r.eventId));
    for (const r of stored) lines.push(`  MongoDB: ${r.commandId} ${r.step} ${r.logId} attempt ${r.attempt} at ${new Date(r.time).toISOString()}`);
    const eventTopics = [...new Set(this.events.map((e) => topics[eventTopicKeyOf(e.event.type as EventType)]))];
    for (const topic of [...eventTopics, topics.webhookCommands, topics.webhookRetry, topics.log]) {
      await readTopicRange(this.ctx.kafka, topic, {}, async (message, partition) => {
        if (!message.value) return;
        const { value } = await this.ctx.serde.decode<{
          commandId?: string;
          eventId?: string;
          step?: string;
          logId?: string;
          firstAttemptAt?: number;
          attempt?: number;
        }>(message.value);
        const mine = value.commandId ? ids.has(value.commandId) || (value.step === 'matched' && events.has(value.eventId!)) : events.has(value.eventId!);
        if (!mine) return;
        const at = new Date(Number(message.timestamp)).toISOString();
        const what = [
          value.step,
          value.logId,
          value.attempt !== undefined ? `attempt ${value.attempt}` : '',
          value.firstAttemptAt ? `first attempt ${new Date(value.firstAttemptAt).toISOString()}` : '',
        ]
          .filter(Boolean)
          .join(' ');
        lines.push(`  ${topic}[${partition}]@${message.offset} ${at}: ${value.commandId ?? value.eventId} ${what}`);
      });
    }
    return lines.join('\n');
  }

  async countOf(step: string): Promise<number> {
    const db = (await this.ctx.mongo()).db;
    return db.collection(EVENT_LOGS_COLLECTION).countDocuments({ tenantId: this.tenantId, step } as never);
  }

  /** The exact accounting, once {@link awaitEverything} has returned. */
  async expectExactAccounting(): Promise<{ webhookRequests: number; webhooks: number; matched: number; delivered: number; leadsMoved: number }> {
    const { wraps, attempts } = this.sizes;
    const byId = new Map<string, string>();
    for (const r of this.receiver.received) {
      const id = r.headers['webhook-id'];
      expect(this.hookOf.has(id)).toBe(true);
      expect(new Webhook(this.secrets.get(id)!).verify(r.body, r.headers)).toBeTruthy();
      // A repeat is the same delivery: same id, same body.
      if (byId.has(id)) expect(r.body).toBe(byId.get(id));
      byId.set(id, r.body);
    }
    const topics = this.ctx.config.kafka.topics;
    for (const topic of [topics.deadLetterEvents, topics.deadLetterWebhook, topics.deadLetterLead, topics.deadLetterLog]) {
      expect({ topic, deadLetters: await countRecords(this.ctx.kafka, topic) }).toEqual({ topic, deadLetters: 0 });
    }
    // A wrap meets two triggers (its webhook and the mover), an attempt one.
    const counts = {
      matched: await this.countOf('matched'),
      delivered: await this.countOf('webhook.delivered'),
      leadsMoved: await this.countOf('lead.moved'),
    };
    const db = (await this.ctx.mongo()).db;
    const perCommand = await db
      .collection(EVENT_LOGS_COLLECTION)
      .aggregate<{ _id: string; n: number }>([
        { $match: { tenantId: this.tenantId, step: 'webhook.delivered' } },
        { $group: { _id: '$commandId', n: { $sum: 1 } } },
        { $match: { n: { $gt: 1 } } },
      ])
      .toArray();
    if (perCommand.length > 0) process.stderr.write(`${await this.diagnoseRepeats(perCommand.map((c) => c._id))}\n`);
    expect(counts).toEqual({ matched: 2 * wraps + attempts, delivered: wraps + attempts, leadsMoved: wraps });
    expect(perCommand).toEqual([]);
    const moved = await db.collection<LeadDocument>(LEADS_COLLECTION).find({ tenantId: this.tenantId }).toArray();
    expect(moved.filter((l) => l.listId === '445' && l.appliedCommandIds.length === 1)).toHaveLength(wraps);
    return { webhookRequests: this.receiver.received.length, webhooks: byId.size, ...counts };
  }
}

/** The p-th percentile (0-100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
