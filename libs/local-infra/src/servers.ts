import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import type { InfraConfig } from '@triggers/config';

/** Versions installed by deploy/local/install.sh (keep the two in step). */
export const VERSIONS = { kafka: process.env.KAFKA_VERSION ?? '4.4.0', registry: '3.3.3', ferretdb: 'v1.24.2' } as const;

/** Kafka 4 and later: KRaft only, `controller.quorum.bootstrap.servers`, log4j2. */
const kafka4 = Number(VERSIONS.kafka.split('.')[0]) >= 4;

/** One server the project runs locally. */
export interface ServerDefinition {
  name: 'kafka' | 'registry' | 'ferretdb';
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
  const log4j = join(dir, kafka4 ? 'log4j2.properties' : 'log4j.properties');
  const logConfig = kafka4 ? `-Dlog4j2.configurationFile=${log4j}` : `-Dlog4j.configuration=file:${log4j}`;
  const classpath = `${install(infra, `kafka-${VERSIONS.kafka}`)}/libs/*`;
  const { port, controllerPort } = infra.kafka;
  return {
    name: 'kafka',
    port,
    marker: props,
    stopGraceMs: 30_000,
    startTimeoutMs: 90_000,
    prepare() {
      mkdirSync(logDir, { recursive: true });
      writeFileSync(
        props,
        [
          'process.roles=broker,controller',
          'node.id=1',
          kafka4 ? `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}` : `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
          `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
          'controller.listener.names=CONTROLLER',
          'inter.broker.listener.name=PLAINTEXT',
          'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
          `log.dirs=${logDir}`,
          'num.partitions=1',
          // One node: internal topics must not ask for more replicas than exist, or
          // transactions and consumer offsets never become available.
          'offsets.topic.replication.factor=1',
          'offsets.topic.num.partitions=10',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'transaction.state.log.num.partitions=10',
          'min.insync.replicas=1',
          'default.replication.factor=1',
          'group.initial.rebalance.delay.ms=0',
          'auto.create.topics.enable=false',
          'log.retention.hours=168',
          'log.segment.bytes=67108864',
          'transaction.abort.timed.out.transaction.cleanup.interval.ms=10000',
          '',
        ].join('\n'),
      );
      writeFileSync(
        log4j,
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
      if (!existsSync(join(logDir, 'meta.properties'))) {
        const clusterIdFile = join(dir, 'cluster-id');
        // Like Kafka's own Uuid.randomUuid: an id starting with "-" would read as an option.
        let fresh = randomBytes(16).toString('base64url');
        while (fresh.startsWith('-')) fresh = randomBytes(16).toString('base64url');
        if (!existsSync(clusterIdFile)) writeFileSync(clusterIdFile, fresh);
        const clusterId = readFileSync(clusterIdFile, 'utf8').trim();
        // Kafka 4 formats a single-node quorum with --standalone (it is its own only voter).
        execFileSync(
          'java',
          [
            logConfig,
            '-cp',
            classpath,
            'kafka.tools.StorageTool',
            'format',
            `--cluster-id=${clusterId}`,
            '-c',
            props,
            '--ignore-formatted',
            ...(kafka4 ? ['--standalone'] : []),
          ],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
      }
    },
    command() {
      return {
        cmd: 'java',
        args: [
          `-Xmx${infra.kafka.heap}`,
          `-Xms${infra.kafka.heap}`,
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-Djava.awt.headless=true',
          logConfig,
          '-cp',
          classpath,
          'kafka.Kafka',
          props,
        ],
        env: process.env,
        cwd: dir,
      };
    },
    async ready() {
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
        return cluster.brokers.length > 0 && cluster.controller !== null;
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
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
          APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: `127.0.0.1:${infra.kafka.port}`,
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

/** FerretDB over SQLite: the MongoDB wire protocol from one local binary. */
export function ferretdbServer(infra: InfraConfig): ServerDefinition {
  const dir = join(infra.dataDir, 'ferretdb');
  const dataDir = join(dir, 'data');
  const { port } = infra.mongo;
  return {
    name: 'ferretdb',
    port,
    marker: `file:${dataDir}/`,
    stopGraceMs: 10_000,
    startTimeoutMs: 30_000,
    prepare() {
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
