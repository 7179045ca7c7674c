import type { Kafka } from 'kafkajs';
import type { BaseConfig } from '@triggers/config';
import type { ConsumerStatus } from '@triggers/kafka';
import type { MongoHandle } from '@triggers/mongo';

/** One dependency /healthz reports on. */
export interface HealthCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: unknown }>;
  /**
   * Liveness: false when the part checked cannot come back by itself (a consumer its engine
   * could not restart), so /livez fails and the orchestrator restarts the process. A dependency
   * being down is readiness's business, never liveness's.
   */
  live?(): boolean;
}

/**
 * The checks /healthz runs: the shared ones (Kafka, registry, MongoDB) and any an app's own
 * services register (e.g. the matcher's "trigger config loaded").
 */
export class HealthRegistry {
  private readonly checks: HealthCheck[] = [];

  constructor(initial: HealthCheck[] = []) {
    this.checks.push(...initial);
  }

  register(check: HealthCheck): void {
    this.checks.push(check);
  }

  all(): readonly HealthCheck[] {
    return this.checks;
  }
}

/**
 * The check of a consumer group member: ready once the group has assigned it partitions and it
 * waits for no dependency, with the group, what it owns (so scaling can be watched), the
 * dependencies its messages wait for (`waitingOn`) and `detail`'s extra fields. Not live once
 * its engine gave up restarting it.
 */
export function consumerHealthCheck(
  name: string,
  groupId: string,
  consumer: () => { assignment(): Record<string, number[]> | undefined; status: ConsumerStatus } | undefined,
  detail: () => object = () => ({}),
): HealthCheck {
  return {
    name,
    check: async () => {
      const c = consumer();
      const assigned = c?.assignment();
      const waitingOn = c?.status.waitingOn() ?? [];
      const stopped = c?.status.deathReason;
      return {
        ok: assigned !== undefined && waitingOn.length === 0 && !stopped,
        detail: { groupId, assigned: assigned ?? null, ...(waitingOn.length > 0 ? { waitingOn } : {}), ...(stopped ? { stopped } : {}), ...detail() },
      };
    },
    live: () => consumer()?.status.alive ?? true,
  };
}

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref())]);

/** Kafka is reachable: a metadata call to the brokers answers (through a `probe` client: one try, short timeouts). */
export function kafkaHealthCheck(kafka: Kafka): HealthCheck {
  return {
    name: 'kafka',
    async check() {
      const admin = kafka.admin();
      try {
        await withTimeout(admin.connect(), 2000, 'kafka');
        const cluster = await withTimeout(admin.describeCluster(), 2000, 'kafka');
        return { ok: true, detail: { brokers: cluster.brokers.length } };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}

/** The schema registry answers its subjects listing. */
export function registryHealthCheck(config: BaseConfig): HealthCheck {
  const headers: Record<string, string> = config.registry.auth
    ? { authorization: `Basic ${Buffer.from(`${config.registry.auth.username}:${config.registry.auth.password}`).toString('base64')}` }
    : {};
  return {
    name: 'schemaRegistry',
    async check() {
      try {
        const res = await fetch(`${config.registry.url}/subjects`, { headers, signal: AbortSignal.timeout(2000) });
        return { ok: res.ok, detail: res.ok ? undefined : `HTTP ${res.status}` };
      } catch (err) {
        return { ok: false, detail: (err as Error).message };
      }
    },
  };
}

/** MongoDB answers a ping. */
export function mongoHealthCheck(mongo: MongoHandle): HealthCheck {
  return {
    name: 'mongodb',
    async check() {
      const { pingMongo } = await import('@triggers/mongo');
      const ok = await withTimeout(pingMongo(mongo.db), 2500, 'mongodb').catch(() => false);
      return { ok, detail: ok ? undefined : 'ping failed' };
    },
  };
}
