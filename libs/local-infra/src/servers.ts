import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { InfraConfig, kafkaNodePorts } from '@triggers/config';
import { startDetached, stopProcess } from './process-control';
import { waitFor } from './wait-for';

/** Versions installed by deploy/local/install.sh (keep the two in step). */
export const VERSIONS = { kafka: process.env.KAFKA_VERSION ?? '4.4.0', registry: '3.3.3', ferretdb: 'v1.24.2' } as const;

/** Kafka 4 and later: KRaft only, `controller.quorum.bootstrap.servers`, log4j2. */
const kafka4 = Number(VERSIONS.kafka.split('.')[0]) >= 4;

/** One server the project runs locally. */
export interface ServerDefinition {
  /** `kafka-<node id>` for a broker added beside the profile's own (see {@link kafkaBrokerServer}). */
  name: 'kafka' | 'registry' | 'ferretdb' | `kafka-${number}`;
  port: number;
  /** A string unique to this profile's process command line (guards pid files against reuse). */
  marker: string;
  /** Writes config files and formats storage when needed; idempotent. */
  prepare(): void;
  command(): { cmd: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string };
  /** Resolves true when the server really answers (a metadata call, an HTTP call, a ping). */
  ready(): Promise<boolean>;
  /** How long a graceful stop may take before SIGKILL. */
  stopGraceMs: number;
  /** How long a start may take before it counts as failed. */
  startTimeoutMs: number;
  /**
   * Servers whose names start with this are launched together before any is awaited (the nodes
   * of a KRaft quorum, none of which answers alone).
   */
  startsWith?: string;
}

const install = (infra: InfraConfig, dir: string) => join(infra.home, 'install', dir);

/**
 * Kafka in KRaft mode, one node as both broker and controller: 4.4.0 by default, or the release
 * `KAFKA_VERSION` names (3.9.1 keeps the 3.x recipe: `controller.quorum.voters`, reload4j). Each
 * version keeps its own data folder, so switching versions never reads another's storage.
 */
export function kafkaServer(infra: InfraConfig): ServerDefinition {
  const dir = join(infra.dataDir, `kafka-${VERSIONS.kafka}`);
  const logDir = join(dir, 'data');
  const props = join(dir, 'server.properties');
  const { port, controllerPort } = infra.kafka;
  return {
    name: 'kafka',
    port,
    marker: props,
    stopGraceMs: 30_000,
    startTimeoutMs: 90_000,
    prepare() {
      mkdirSync(logDir, { recursive: true });
      writeKafkaConfig(dir, [
        'process.roles=broker,controller',
        'node.id=1',
        kafka4 ? `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}` : `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        `log.dirs=${logDir}`,
      ]);
      if (!existsSync(join(logDir, 'meta.properties'))) {
        // Kafka 4 formats a single-node quorum with --standalone (it is its own only voter).
        formatKafkaStorage(infra, dir, kafka4 ? ['--standalone'] : []);
      }
    },
    command: () => kafkaCommand(infra, dir),
    ready: () => kafkaAnswers(port),
  };
}

/**
 * Node `nodeId` of a profile's multi-node cluster (the `cluster` profile: three), named
 * `kafka-<nodeId>`: broker and controller both, the controllers a static quorum of every node
 * (`controller.quorum.voters`), internal and new topics replicated to every node (at most 3) with
 * `min.insync.replicas` 2. Its storage is formatted once with the cluster's id and kept across
 * restarts. No node answers until a majority of the quorum runs, so a cluster's nodes are launched
 * together ({@link ServerDefinition.startsWith}).
 */
export function kafkaClusterNodeServer(infra: InfraConfig, nodeId: number): ServerDefinition {
  const nodes = kafkaNodePorts(infra);
  const me = nodes.find((n) => n.nodeId === nodeId);
  if (!me) throw new Error(`the ${infra.profile} profile has no Kafka node ${nodeId}`);
  const dir = join(infra.dataDir, `kafka-${VERSIONS.kafka}-node${nodeId}`);
  const logDir = join(dir, 'data');
  return {
    name: `kafka-${nodeId}`,
    port: me.port,
    marker: join(dir, 'server.properties'),
    stopGraceMs: 30_000,
    startTimeoutMs: 90_000,
    startsWith: 'kafka-',
    prepare() {
      mkdirSync(logDir, { recursive: true });
      writeKafkaConfig(
        dir,
        [
          'process.roles=broker,controller',
          `node.id=${nodeId}`,
          `controller.quorum.voters=${nodes.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',')}`,
          `listeners=PLAINTEXT://127.0.0.1:${me.port},CONTROLLER://127.0.0.1:${me.controllerPort}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${me.port}`,
          `log.dirs=${logDir}`,
        ],
        Math.min(3, nodes.length),
      );
      if (!existsSync(join(logDir, 'meta.properties'))) formatKafkaStorage(infra, infra.dataDir, [], join(dir, 'server.properties'));
    },
    command: () => kafkaCommand(infra, dir),
    ready: () => kafkaAnswers(me.port, nodeId),
  };
}

/**
 * One more broker (no controller) that joins the profile's cluster: for a test that needs some
 * partitions to lose their leader while the first node, which holds the transaction coordinator
 * and the group coordinators, stays up. Kafka 4 only. Topics it leads are placed on it by
 * assignment. Its storage survives a restart; `reset` removes it (a fresh node).
 */
export function kafkaBrokerServer(infra: InfraConfig, nodeId: number, port: number): ServerDefinition & { reset(): void } {
  const dir = join(infra.dataDir, `kafka-${VERSIONS.kafka}-node${nodeId}`);
  const logDir = join(dir, 'data');
  const props = join(dir, 'server.properties');
  return {
    name: `kafka-${nodeId}`,
    port,
    marker: props,
    stopGraceMs: 30_000,
    startTimeoutMs: 90_000,
    reset() {
      rmSync(dir, { recursive: true, force: true });
    },
    prepare() {
      mkdirSync(logDir, { recursive: true });
      writeKafkaConfig(dir, [
        'process.roles=broker',
        `node.id=${nodeId}`,
        `controller.quorum.bootstrap.servers=127.0.0.1:${infra.kafka.controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${port}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        `log.dirs=${logDir}`,
      ]);
      if (!existsSync(join(logDir, 'meta.properties'))) formatKafkaStorage(infra, join(infra.dataDir, `kafka-${VERSIONS.kafka}`), [], props);
    },
    command: () => kafkaCommand(infra, dir),
    ready: async () => (await kafkaAnswers(port)) && (await kafkaAnswers(infra.kafka.port, nodeId)),
  };
}

const log4jFile = (dir: string) => join(dir, kafka4 ? 'log4j2.properties' : 'log4j.properties');
const log4jOption = (dir: string) => (kafka4 ? `-Dlog4j2.configurationFile=${log4jFile(dir)}` : `-Dlog4j.configuration=file:${log4jFile(dir)}`);
/** The Java classpath of the installed Kafka (its tools included). */
export const kafkaClasspath = (infra: InfraConfig) => `${install(infra, `kafka-${VERSIONS.kafka}`)}/libs/*`;

/**
 * Writes a node's server.properties (its own lines, then what every node of a profile shares) and
 * its logging configuration. `replicas`: how many copies internal and new topics keep (one node:
 * more than exist and transactions and consumer offsets never become available).
 */
function writeKafkaConfig(dir: string, own: string[], replicas = 1): void {
  const minIsr = Math.min(2, replicas);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'server.properties'),
    [
      ...own,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'num.partitions=1',
      `offsets.topic.replication.factor=${replicas}`,
      'offsets.topic.num.partitions=10',
      `transaction.state.log.replication.factor=${replicas}`,
      `transaction.state.log.min.isr=${minIsr}`,
      'transaction.state.log.num.partitions=10',
      `min.insync.replicas=${minIsr}`,
      `default.replication.factor=${replicas}`,
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      'log.retention.hours=168',
      'log.segment.bytes=67108864',
      'transaction.abort.timed.out.transaction.cleanup.interval.ms=10000',
      '',
    ].join('\n'),
  );
  writeFileSync(
    log4jFile(dir),
    (kafka4
      ? [
          'appender.stdout.type=Console',
          'appender.stdout.name=STDOUT',
          'appender.stdout.layout.type=PatternLayout',
          'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
          'rootLogger.level=INFO',
          'rootLogger.appenderRef.stdout.ref=STDOUT',
          'logger.request.name=kafka.request.logger',
          'logger.request.level=WARN',
          'logger.state.name=state.change.logger',
          'logger.state.level=WARN',
          'logger.cleaner.name=kafka.log.LogCleaner',
          'logger.cleaner.level=WARN',
        ]
      : [
          'log4j.rootLogger=INFO, stdout',
          'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
          'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
          'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
          'log4j.logger.kafka.request.logger=WARN',
          'log4j.logger.state.change.logger=WARN',
          'log4j.logger.kafka.log.LogCleaner=WARN',
        ]
    )
      .concat('')
      .join('\n'),
  );
}

/**
 * Formats a node's storage with the cluster id kept in `clusterDir` (made there the first time).
 * `props` is the node's configuration, `clusterDir`'s own by default.
 */
function formatKafkaStorage(infra: InfraConfig, clusterDir: string, extra: string[], props = join(clusterDir, 'server.properties')): void {
  const clusterIdFile = join(clusterDir, 'cluster-id');
  if (!existsSync(clusterIdFile)) {
    // Like Kafka's own Uuid.randomUuid: an id starting with "-" would read as an option.
    let fresh = randomBytes(16).toString('base64url');
    while (fresh.startsWith('-')) fresh = randomBytes(16).toString('base64url');
    writeFileSync(clusterIdFile, fresh);
  }
  const clusterId = readFileSync(clusterIdFile, 'utf8').trim();
  const dir = dirname(props);
  execFileSync(
    'java',
    [
      log4jOption(dir),
      '-cp',
      kafkaClasspath(infra),
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${clusterId}`,
      '-c',
      props,
      '--ignore-formatted',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

function kafkaCommand(infra: InfraConfig, dir: string): { cmd: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  return {
    cmd: 'java',
    args: [
      `-Xmx${infra.kafka.heap}`,
      `-Xms${infra.kafka.heap}`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      log4jOption(dir),
      '-cp',
      kafkaClasspath(infra),
      'kafka.Kafka',
      join(dir, 'server.properties'),
    ],
    env: process.env,
    cwd: dir,
  };
}

/** True when the broker on `port` answers with a controller known and (when given) node `nodeId` among the live brokers. */
async function kafkaAnswers(port: number, nodeId?: number): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'triggers-infra-probe',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && (nodeId === undefined || cluster.brokers.some((b) => b.nodeId === nodeId));
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Apicurio Registry with the Confluent-compatible API. Its schemas live in a Kafka topic
 * (`kafkasql` storage), as Confluent's registry keeps them, so a restart forgets no schema id
 * that retained messages point to.
 */
export function registryServer(infra: InfraConfig): ServerDefinition {
  const home = install(infra, `apicurio-registry-${VERSIONS.registry}`);
  const dir = join(infra.dataDir, 'registry');
  const { port } = infra.registry;
  return {
    name: 'registry',
    port,
    marker: `-Dtriggers.infra=${dir}`,
    stopGraceMs: 20_000,
    startTimeoutMs: 180_000,
    prepare() {
      mkdirSync(dir, { recursive: true });
    },
    command() {
      const javaPath = join(home, 'java-path');
      const java = existsSync(javaPath) ? readFileSync(javaPath, 'utf8').trim() : 'java';
      return {
        cmd: java,
        args: [`-Xmx${infra.registry.heap}`, `-Dtriggers.infra=${dir}`, '-jar', join(home, 'quarkus-run.jar')],
        env: {
          ...process.env,
          APICURIO_STORAGE_KIND: 'kafkasql',
          APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: kafkaNodePorts(infra)
            .map((n) => `127.0.0.1:${n.port}`)
            .join(','),
          QUARKUS_HTTP_HOST: '127.0.0.1',
          QUARKUS_HTTP_PORT: String(port),
          // The management interface is fixed at build time; it can only be moved: to loopback,
          // and to a port of this profile's own, so the local and test registries run side by side.
          QUARKUS_MANAGEMENT_ENABLED: 'false',
          QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
          QUARKUS_MANAGEMENT_PORT: String(port + 1000),
          QUARKUS_LOG_CONSOLE_JSON: 'false',
        },
        cwd: dir,
      };
    },
    async ready() {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      } catch {
        return false;
      }
    },
  };
}

/**
 * The embedded store's folders under `<dataDir>/ferretdb/`. `store-2` is built with indexes on
 * sort keys (deploy/local/ferretdb-patches/002); `data`, the layout before it, is served as it is
 * but scans on every lookup, so a profile's store of that layout is copied over once with
 * `npm run -s store:migrate` (the local profile's; a test profile's is disposable and removed).
 */
export const FERRETDB_STORES = { current: 'store-2', legacy: 'data' } as const;

/** The folder of one of a profile's stores. */
export function ferretdbStoreDir(infra: InfraConfig, store: string = FERRETDB_STORES.current): string {
  return join(infra.dataDir, 'ferretdb', store);
}

/** Thrown when a profile's store must be migrated before it is served. */
export class StoreLayoutError extends Error {}

/** A FerretDB serving one store folder apart from a profile's servers (log and pid file beside the folder). */
export interface RunningFerretDB {
  /** `mongodb://` URI of `database` on it (the server's, without one). */
  uri(database?: string): string;
  /** Stops it (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder, and waits until it answers. */
  start(): Promise<void>;
}

/** Starts a FerretDB on `infra`'s Mongo port serving `store`, and waits until it answers. */
export async function startFerretDB(infra: InfraConfig, store: string = FERRETDB_STORES.current): Promise<RunningFerretDB> {
  const server = ferretdbServer(infra, store);
  server.prepare();
  const files = ferretdbStoreDir(infra, store);
  let pid: number | undefined;
  const start = async () => {
    const { cmd, args, env, cwd } = server.command();
    pid = startDetached(cmd, args, { cwd, env, logFile: `${files}.log`, pidFile: `${files}.pid` });
    await waitFor(() => server.ready(), { timeoutMs: 30_000, description: `FerretDB serving ${files}` });
  };
  const stop = async () => {
    if (pid !== undefined) await stopProcess(pid, 10_000);
    pid = undefined;
  };
  await start();
  return { uri: (database = '') => `mongodb://127.0.0.1:${infra.mongo.port}/${database}`, start, stop };
}

/** FerretDB over SQLite: the MongoDB wire protocol from one local binary, serving one store folder. */
export function ferretdbServer(infra: InfraConfig, store: string = FERRETDB_STORES.current): ServerDefinition {
  const dataDir = ferretdbStoreDir(infra, store);
  const dir = dirname(dataDir);
  const { port } = infra.mongo;
  return {
    name: 'ferretdb',
    port,
    marker: `file:${dataDir}/`,
    stopGraceMs: 10_000,
    startTimeoutMs: 30_000,
    prepare() {
      const legacy = ferretdbStoreDir(infra, FERRETDB_STORES.legacy);
      if (store === FERRETDB_STORES.current && !existsSync(dataDir) && existsSync(legacy)) {
        if (infra.profile === 'local') {
          throw new StoreLayoutError(
            `the store at ${legacy} has the layout before indexes on sort keys; copy it to ${dataDir} with \`npm run -s store:migrate\` (it keeps the old one), or remove it to start empty`,
          );
        }
        rmSync(legacy, { recursive: true, force: true });
      }
      mkdirSync(dataDir, { recursive: true });
    },
    command() {
      return {
        cmd: join(install(infra, `ferretdb-${VERSIONS.ferretdb}`), 'ferretdb'),
        args: [
          '--handler=sqlite',
          `--sqlite-url=file:${dataDir}/`,
          `--listen-addr=127.0.0.1:${port}`,
          '--telemetry=disable',
          '--debug-addr=-',
          '--log-level=warn',
        ],
        env: process.env,
        cwd: dir,
      };
    },
    async ready() {
      const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
      try {
        await client.connect();
        await client.db('admin').command({ ping: 1 });
        return true;
      } catch {
        return false;
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  };
}
