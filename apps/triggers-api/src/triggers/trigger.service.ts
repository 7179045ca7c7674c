import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import type { Logger } from '@triggers/logging';
import { Trigger, TriggerInput, ValidTrigger, validateTrigger } from '@triggers/rules';
import { APP_CONFIG, APP_LOGGER } from '@triggers/runtime';
import { SecretBox, secretContext } from '@triggers/secrets';
import { ApiError, invalidTrigger, notFound, staleVersion } from '../http/api-errors';
import { ConfigPublisher } from '../config-sync/config-publisher.service';
import { StoredSecret, TriggerDocument, TriggerRepository, WriteOutcome } from '../trigger-store/trigger.repository';
import { WebhookUrls } from '../http/webhook-urls';

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

/** A new signing secret: its plain text (shown once, in the response) and the stored form, sealed for its trigger. */
function newSecret(box: SecretBox, tenantId: string, triggerId: string): { plain: string; stored: StoredSecret } {
  const id = `sec_${randomBytes(6).toString('hex')}`;
  const plain = `whsec_${randomBytes(24).toString('base64')}`;
  return { plain, stored: { id, secret: box.seal(plain, secretContext(tenantId, triggerId, id)), createdAt: new Date(), notAfter: null } };
}

const hasWebhook = (t: Trigger) => t.actions.some((a) => a.action === 'webhook');

/** Creating, reading, changing and deleting a tenant's triggers. */
@Injectable()
export class TriggerService {
  /** Seals signing secrets: neither MongoDB nor the config topic ever holds one in plain text. */
  private readonly box: SecretBox;

  constructor(
    private readonly repository: TriggerRepository,
    private readonly publisher: ConfigPublisher,
    private readonly urls: WebhookUrls,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.box = new SecretBox(config.secretsKeyring);
  }

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

  /** The address policy on the trigger's webhook URLs: a 400 for a refused one, warnings for hosts that resolve into refused ranges. */
  private checkUrls(trigger: Trigger): Promise<string[]> {
    const urls = trigger.actions.flatMap((a, i) =>
      a.action === 'webhook' ? [{ path: `parameters.actions.${i}.parameters.url`, url: (a.parameters as { url: string }).url }] : [],
    );
    return this.urls.check(urls);
  }

  async create(caller: Caller, input: TriggerInput): Promise<TriggerView> {
    const valid = this.validate(input);
    const urlWarnings = await this.checkUrls(valid.trigger);
    const id = newTriggerId();
    const secret = hasWebhook(valid.trigger) ? newSecret(this.box, caller.tenantId, id) : undefined;
    const doc = await this.repository.insert(caller.tenantId, id, {
      ...valid.trigger,
      parametersText: valid.parametersText,
      webhookSecrets: secret ? [secret.stored] : [],
    });
    await this.publish(doc);
    return TriggerService.view(doc, { warnings: [...valid.warnings, ...urlWarnings], ...(secret ? { webhookSecret: secret.plain } : {}) });
  }

  get(caller: Caller, id: string): Promise<TriggerDocument> {
    return this.repository.get(caller, id);
  }

  async list(caller: Caller, q: { eventType?: string; enabled?: boolean; limit: number; cursor?: string }) {
    const docs = await this.repository.list(caller.tenantId, { ...q, after: q.cursor, limit: q.limit + 1 });
    const page = docs.slice(0, q.limit);
    return { items: page.map((d) => TriggerService.view(d)), nextCursor: docs.length > q.limit ? page[page.length - 1]._id : null };
  }

  /**
   * Replaces a trigger (PUT), or changes some of its fields (PATCH: the rest stays). With a version
   * expected (If-Match) only a write on that version wins; without one the change is merged into
   * whatever version is current when it claims the next one, so every writer gets its own version.
   */
  async update(caller: Caller, id: string, input: TriggerInput, opts: { expectedVersion?: number; partial: boolean }): Promise<TriggerView> {
    // New webhook URLs are judged before any version is claimed (the stored ones were at their save);
    // invalid parameters are left to the validation below, which answers with the spec's message.
    let urlWarnings: string[] = [];
    if (input.parameters !== undefined) {
      const current = await this.get(caller, id);
      const probe = validateTrigger({
        name: input.name ?? current.name,
        eventType: input.eventType ?? current.eventType,
        enabled: input.enabled ?? current.enabled,
        parameters: input.parameters,
      });
      if (probe.ok) urlWarnings = await this.checkUrls(probe.trigger);
    }
    let warnings: string[] = [];
    let created: ReturnType<typeof newSecret> | undefined;
    const outcome = await this.repository.update(caller.tenantId, id, opts.expectedVersion, (current) => {
      const merged: TriggerInput = opts.partial
        ? {
            name: input.name ?? current.name,
            eventType: input.eventType ?? current.eventType,
            enabled: input.enabled ?? current.enabled,
            parameters: input.parameters ?? current.parametersText,
          }
        : input;
      const valid = this.validate(merged);
      warnings = valid.warnings;
      const secrets = [...current.webhookSecrets];
      created = undefined;
      if (hasWebhook(valid.trigger) && secrets.length === 0) secrets.push((created = newSecret(this.box, caller.tenantId, id)).stored);
      return { ...valid.trigger, parametersText: valid.parametersText, webhookSecrets: secrets };
    });
    const doc = this.written(outcome, opts.expectedVersion ?? 0);
    await this.publish(doc);
    const secret = created as ReturnType<typeof newSecret> | undefined;
    return TriggerService.view(doc, { warnings: [...warnings, ...urlWarnings], ...(secret ? { webhookSecret: secret.plain } : {}) });
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
    const now = Date.now();
    const until = new Date(now + this.config.secretOverlapMs);
    const secret = newSecret(this.box, caller.tenantId, id);
    const outcome = await this.repository.update(caller.tenantId, id, undefined, (current) => {
      const kept = current.webhookSecrets.filter((s) => !s.notAfter || s.notAfter.getTime() > now).map((s) => ({ ...s, notAfter: s.notAfter ?? until }));
      return { webhookSecrets: [...kept, secret.stored] };
    });
    const doc = this.written(outcome, 0);
    await this.publish(doc);
    return { trigger: TriggerService.view(doc), webhookSecret: secret.plain, previousValidUntil: until.toISOString() };
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
      this.logger.warn(
        { err, tenantId: doc.tenantId, triggerId: doc._id, version: doc.version },
        'trigger stored; publishing to the config topic will be retried',
      );
    }
  }
}

export { ApiError };
