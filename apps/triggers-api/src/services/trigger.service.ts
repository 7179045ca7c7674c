import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { Trigger, TriggerInput, ValidTrigger, validateTrigger } from '@triggers/rules';
import { APP_CONFIG, APP_LOGGER } from '@triggers/runtime';
import { ApiError, invalidTrigger, notFound, staleVersion } from './api-errors';
import { ConfigPublisher } from './config-publisher.service';
import { StoredSecret, TriggerDocument, TriggerRepository, WriteOutcome } from './trigger.repository';

/** A trigger as the API returns it: never a signing secret, except once when one is created. */
export interface TriggerView {
  id: string;
  name: string;
  eventType: string;
  enabled: boolean;
  parameters: { conditions: Trigger['conditions']; actions: Trigger['actions'] };
  parametersText: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  webhookSecrets: { id: string; createdAt: string; notAfter: string | null }[];
  warnings?: string[];
  /** Present only in the response that created the secret. */
  webhookSecret?: string;
}

/** A new id that sorts by creation time, for stable cursor pagination. */
export function newTriggerId(): string {
  return `trg${Date.now().toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

const newSecret = (): StoredSecret => ({
  id: `sec_${randomBytes(6).toString('hex')}`,
  secret: `whsec_${randomBytes(24).toString('base64')}`,
  createdAt: new Date(),
  notAfter: null,
});

const hasWebhook = (t: Trigger) => t.actions.some((a) => a.action === 'webhook');

/** Creating, reading, changing and deleting a tenant's triggers. */
@Injectable()
export class TriggerService {
  constructor(
    private readonly repository: TriggerRepository,
    private readonly publisher: ConfigPublisher,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  static view(doc: TriggerDocument, extra: Partial<TriggerView> = {}): TriggerView {
    return {
      id: doc._id,
      name: doc.name,
      eventType: doc.eventType,
      enabled: doc.enabled,
      parameters: { conditions: doc.conditions, actions: doc.actions },
      parametersText: doc.parametersText,
      version: doc.version,
      createdAt: doc.createdAt.toISOString(),
      updatedAt: doc.updatedAt.toISOString(),
      webhookSecrets: doc.webhookSecrets.map((s) => ({
        id: s.id,
        createdAt: s.createdAt.toISOString(),
        notAfter: s.notAfter ? s.notAfter.toISOString() : null,
      })),
      ...extra,
    };
  }

  private validate(input: TriggerInput): ValidTrigger {
    const result = validateTrigger(input);
    if (!result.ok) throw invalidTrigger(result);
    return result;
  }

  async create(caller: Caller, input: TriggerInput): Promise<TriggerView> {
    const valid = this.validate(input);
    const secret = hasWebhook(valid.trigger) ? newSecret() : undefined;
    const doc = await this.repository.insert(caller.tenantId, newTriggerId(), {
      ...valid.trigger,
      parametersText: valid.parametersText,
      webhookSecrets: secret ? [secret] : [],
    });
    await this.publish(doc);
    return TriggerService.view(doc, { warnings: valid.warnings, ...(secret ? { webhookSecret: secret.secret } : {}) });
  }

  async get(caller: Caller, id: string): Promise<TriggerDocument> {
    const doc = await this.repository.find(caller.tenantId, id);
    if (!doc) throw notFound('trigger');
    return doc;
  }

  async list(caller: Caller, q: { eventType?: string; enabled?: boolean; limit: number; cursor?: string }) {
    const docs = await this.repository.list(caller.tenantId, { ...q, after: q.cursor, limit: q.limit + 1 });
    const page = docs.slice(0, q.limit);
    return { items: page.map((d) => TriggerService.view(d)), nextCursor: docs.length > q.limit ? page[page.length - 1]._id : null };
  }

  /** Replaces a trigger (PUT), or changes some of its fields (PATCH: the rest stays). */
  async update(caller: Caller, id: string, input: TriggerInput, opts: { expectedVersion?: number; partial: boolean }): Promise<TriggerView> {
    const current = await this.get(caller, id);
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.version) {
      throw staleVersion(opts.expectedVersion, current.version);
    }
    const merged: TriggerInput = opts.partial
      ? {
          name: input.name ?? current.name,
          eventType: input.eventType ?? current.eventType,
          enabled: input.enabled ?? current.enabled,
          parameters: input.parameters ?? current.parametersText,
        }
      : input;
    const valid = this.validate(merged);
    const secrets = [...current.webhookSecrets];
    let created: StoredSecret | undefined;
    if (hasWebhook(valid.trigger) && secrets.length === 0) secrets.push((created = newSecret()));
    // Conditional on the version read above, so a concurrent write in between is a 409, not lost.
    const outcome = await this.repository.update(caller.tenantId, id, current.version, {
      ...valid.trigger,
      parametersText: valid.parametersText,
      webhookSecrets: secrets,
    });
    const doc = this.written(outcome, opts.expectedVersion ?? current.version);
    await this.publish(doc);
    return TriggerService.view(doc, { warnings: valid.warnings, ...(created ? { webhookSecret: created.secret } : {}) });
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    const outcome = await this.repository.update(caller.tenantId, id, expectedVersion, { deleted: true, enabled: false });
    await this.publish(this.written(outcome, expectedVersion ?? 0));
  }

  /**
   * Adds a new signing secret; secrets without an end get one after the configured overlap, so
   * receivers can switch over while both signatures are sent. Expired secrets are dropped.
   */
  async rotateSecret(caller: Caller, id: string): Promise<{ trigger: TriggerView; webhookSecret: string; previousValidUntil: string }> {
    const current = await this.get(caller, id);
    const now = Date.now();
    const until = new Date(now + this.config.secretOverlapMs);
    const kept = current.webhookSecrets
      .filter((s) => !s.notAfter || s.notAfter.getTime() > now)
      .map((s) => ({ ...s, notAfter: s.notAfter ?? until }));
    const secret = newSecret();
    const outcome = await this.repository.update(caller.tenantId, id, current.version, { webhookSecrets: [...kept, secret] });
    const doc = this.written(outcome, current.version);
    await this.publish(doc);
    return { trigger: TriggerService.view(doc), webhookSecret: secret.secret, previousValidUntil: until.toISOString() };
  }

  private written(outcome: WriteOutcome, expected: number): TriggerDocument {
    if (outcome.ok) return outcome.doc;
    if (outcome.reason === 'not-found') throw notFound('trigger');
    throw staleVersion(expected, outcome.current);
  }

  /**
   * Publishes the stored change now. If Kafka is unreachable the change stays marked and the
   * re-drive sends it later: the write itself has succeeded, so the request does too.
   */
  private async publish(doc: TriggerDocument): Promise<void> {
    try {
      // Bounded: with Kafka down the request answers anyway and the re-drive finishes the job.
      await Promise.race([
        this.publisher.sync(doc._id),
        new Promise((_, reject) => setTimeout(() => reject(new Error('publish timed out')), this.config.publishTimeoutMs).unref()),
      ]);
    } catch (err) {
      this.logger.warn({ err, tenantId: doc.tenantId, triggerId: doc._id, version: doc.version }, 'trigger stored; publishing to the config topic will be retried');
    }
  }
}

export { ApiError };
