import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { DispatcherConfig } from '@triggers/config';
import { TriggerConfigRecord, triggerKey } from '@triggers/contracts';
import { TransientError } from '@triggers/errors';
import { SecretBox, secretContext } from '@triggers/secrets';
import { TRIGGER_CONFIG_FEED, type TriggerConfigChange, type TriggerConfigFeed } from '@triggers/trigger-config';
import type { Logger } from '@triggers/logging';
import { APP_CONFIG, APP_LOGGER } from '@triggers/runtime';

/** A signing secret as held in memory: opened, never written anywhere. */
type Secret = { secret: string; notAfter: number | null };

/**
 * A trigger's signing secrets are not known (its config record is unreadable, or it has none):
 * its deliveries wait, since no webhook ever leaves unsigned.
 */
export class SecretsUnknownError extends TransientError {
  constructor(tenantId: string, triggerId: string, why: string) {
    super(`signing secrets of trigger ${tenantId}/${triggerId} are not known (${why}); its deliveries wait until its config is readable`, {
      dependency: 'triggerConfig',
      code: 'secrets.unknown',
    });
  }
}

/**
 * The signing secrets of every trigger, from the compacted config topic (the API publishes them
 * there with the trigger). A trigger that is not found is looked up again once the topic has
 * been read to its current end, so a trigger created a moment ago is never mistaken for a
 * deleted one.
 */
@Injectable()
export class WebhookSecretsStore implements OnApplicationShutdown {
  /** Secrets by trigger; null for a trigger whose config record is unreadable (its deliveries wait). */
  private readonly secrets = new Map<string, Secret[] | null>();
  /** Opens the sealed secrets of the config topic (SECRETS_KEY, and SECRETS_KEYS_PREVIOUS during a rotation). */
  private readonly box: SecretBox;

  constructor(
    @Inject(TRIGGER_CONFIG_FEED) private readonly feed: TriggerConfigFeed,
    @Inject(APP_CONFIG) config: DispatcherConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {
    this.box = new SecretBox(config.secretsKeyring);
  }

  load(): Promise<void> {
    return this.feed.load({ apply: (change) => this.apply(change), size: () => this.secrets.size });
  }

  private apply(change: TriggerConfigChange): void {
    const { key, offset } = change;
    if (change.record === null) {
      this.secrets.delete(key);
    } else if (change.record === undefined) {
      // Kept as existing (not deleted) but without secrets: its webhooks wait, never unsigned.
      this.secrets.set(key, null);
      this.logger.error({ err: change.error, key, offset }, 'unreadable trigger config record; its webhooks wait until a readable record of it arrives');
    } else {
      const { tenantId, triggerId } = change.record;
      this.secrets.set(triggerKey(tenantId, triggerId), this.opened(change.record, offset));
    }
  }

  /**
   * A record's secrets, opened once as the record is read. A secret that does not open (a key
   * this instance lacks, or altered) makes the trigger's secrets unknown: its webhooks wait.
   */
  private opened(record: TriggerConfigRecord, offset: string): Secret[] | null {
    const opened: Secret[] = [];
    for (const s of record.webhookSecrets) {
      if (!SecretBox.isSealed(s.secret)) {
        // Written before secrets were sealed: usable, and sealed when the trigger is next saved.
        this.logger.warn({ tenantId: record.tenantId, triggerId: record.triggerId, secretId: s.id }, 'signing secret on the config topic is not sealed');
        opened.push({ secret: s.secret, notAfter: s.notAfter });
        continue;
      }
      try {
        opened.push({ secret: this.box.open(s.secret, secretContext(record.tenantId, record.triggerId, s.id)), notAfter: s.notAfter });
      } catch (err) {
        this.logger.error(
          { err, tenantId: record.tenantId, triggerId: record.triggerId, secretId: s.id, offset },
          "signing secret does not open; the trigger's webhooks wait (is SECRETS_KEY or SECRETS_KEYS_PREVIOUS missing a key?)",
        );
        return null;
      }
    }
    return opened;
  }

  /**
   * The secrets to sign with now (those not past their end), or null when the trigger does not
   * exist (deleted).
   * @throws SecretsUnknownError when the trigger exists but no secret of it is known now.
   */
  async secretsFor(tenantId: string, triggerId: string, now: number): Promise<string[] | null> {
    const key = triggerKey(tenantId, triggerId);
    if (!this.secrets.has(key)) await this.feed.syncToEnd();
    if (!this.secrets.has(key)) return null;
    const secrets = this.secrets.get(key);
    if (!secrets) throw new SecretsUnknownError(tenantId, triggerId, 'its config record is unreadable, or a secret of it does not open');
    const current = secrets.filter((s) => s.notAfter === null || s.notAfter > now).map((s) => s.secret);
    if (current.length === 0) throw new SecretsUnknownError(tenantId, triggerId, 'it has no current secret');
    return current;
  }

  /** Stops following the config topic (before a retried load). */
  stop(): Promise<void> {
    return this.feed.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.feed.stop();
  }
}
