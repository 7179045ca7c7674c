import { z } from 'zod';
import { Env, parseEnv, port } from './env';

/** Where and how the local servers run (deploy/local, the test suite). */
export interface InfraConfig {
  profile: InfraProfile;
  /** Installs (shared by every profile) and this profile's data and logs. */
  home: string;
  dataDir: string;
  /**
   * The profile's Kafka: `nodes` KRaft nodes, each broker and controller; node `i` (from 1) listens
   * on `port + 10 × (i − 1)` and its controller on `controllerPort + 10 × (i − 1)`.
   */
  kafka: { port: number; controllerPort: number; heap: string; nodes: number };
  registry: { port: number; heap: string };
  mongo: { port: number };
}

/**
 * `local` for `npm start`, `test` for `npm test`, `faults` for the system fault suite (which
 * restarts its broker, so it never shares servers with anything else), `compat` for the Kafka
 * compatibility step (`npm run test:compat`, Kafka 3.9.1), `cluster` for the scale-out suite
 * (`npm run test:scale`: three Kafka nodes, replication factor 3).
 */
export type InfraProfile = 'local' | 'test' | 'faults' | 'compat' | 'cluster';
const PROFILES = ['local', 'test', 'faults', 'compat', 'cluster'] as const;

const PROFILE_DEFAULTS = {
  local: { kafka: 9092, controller: 9093, registry: 8081, mongo: 27017 },
  test: { kafka: 19092, controller: 19093, registry: 18081, mongo: 17017 },
  faults: { kafka: 29092, controller: 29093, registry: 28081, mongo: 27027 },
  compat: { kafka: 39092, controller: 39093, registry: 38081, mongo: 37017 },
  // Below the kernel's ephemeral ports (32768 and up): a broker restarted mid-run must find its
  // port free, not taken as the local port of some client's connection.
  cluster: { kafka: 24092, controller: 24093, registry: 24081, mongo: 24017 },
} as const;

/** Kafka nodes per profile: three for the cluster profile (replication factor 3), one elsewhere. */
const PROFILE_NODES: Record<InfraProfile, number> = { local: 1, test: 1, faults: 1, compat: 1, cluster: 3 };

/**
 * Reads the local server layout. Two profiles keep `npm start` and `npm test` apart (their own
 * ports and data folders), so the suite runs whether or not the local system is up beside it.
 */
export function loadInfraConfig(env: Env, repoRoot: string, profile?: InfraProfile): InfraConfig {
  const chosen = profile ?? parseEnv({ INFRA_PROFILE: z.enum(PROFILES).default('local') }, env).INFRA_PROFILE;
  const d = PROFILE_DEFAULTS[chosen];
  const heap = () => z.string().regex(/^\d+[mMgG]$/, 'must look like 512m or 1g');
  const v = parseEnv(
    {
      INFRA_HOME: z.string().default(`${repoRoot}/.infra`),
      INFRA_DATA_DIR: z.string().optional(),
      INFRA_KAFKA_PORT: port().default(d.kafka),
      INFRA_KAFKA_CONTROLLER_PORT: port().default(d.controller),
      // Three nodes of the cluster profile share the machine with the apps: a smaller heap each.
      INFRA_KAFKA_HEAP: heap().default(PROFILE_NODES[chosen] > 1 ? '384m' : '512m'),
      INFRA_REGISTRY_PORT: port().default(d.registry),
      INFRA_REGISTRY_HEAP: heap().default('512m'),
      INFRA_MONGO_PORT: port().default(d.mongo),
    },
    env,
  );
  return {
    profile: chosen,
    home: v.INFRA_HOME,
    dataDir: v.INFRA_DATA_DIR ?? `${v.INFRA_HOME}/${chosen}`,
    kafka: { port: v.INFRA_KAFKA_PORT, controllerPort: v.INFRA_KAFKA_CONTROLLER_PORT, heap: v.INFRA_KAFKA_HEAP, nodes: PROFILE_NODES[chosen] },
    registry: { port: v.INFRA_REGISTRY_PORT, heap: v.INFRA_REGISTRY_HEAP },
    mongo: { port: v.INFRA_MONGO_PORT },
  };
}

/** The variables the apps need to reach servers laid out by `infra`. */
export function infraConnectionEnv(infra: InfraConfig, database = 'triggers'): Record<string, string> {
  return {
    KAFKA_BROKERS: kafkaNodePorts(infra)
      .map((p) => `127.0.0.1:${p.port}`)
      .join(','),
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${infra.registry.port}/apis/ccompat/v7`,
    MONGODB_URI: `mongodb://127.0.0.1:${infra.mongo.port}/${database}`,
  };
}

/** Each Kafka node's id and ports in a profile (one entry, node 1, unless it is a cluster). */
export function kafkaNodePorts(infra: InfraConfig): { nodeId: number; port: number; controllerPort: number }[] {
  return Array.from({ length: infra.kafka.nodes }, (_, i) => ({
    nodeId: i + 1,
    port: infra.kafka.port + 10 * i,
    controllerPort: infra.kafka.controllerPort + 10 * i,
  }));
}
