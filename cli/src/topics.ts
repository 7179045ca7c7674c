/**
 * triggers topics apply | list
 * apply: creates every topic of the product that is missing (partitions and replication from
 * TOPIC_PARTITIONS / TOPIC_REPLICATION_FACTOR, min.insync.replicas, cleanup policy and retention
 * per topic), checks the existing ones against the same layout, and registers each topic's value
 * schema. Idempotent: a second run creates nothing. Exit code 3 when an existing topic differs
 * (it is reported, never changed).
 */
import { loadBaseConfig, loadTopicsConfig } from '@triggers/config';
import { KAFKA_TOPICS } from '@triggers/contracts';
import { AvroSerde, createKafka, createRegistry, ensureTopics } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'list';
  const config = loadBaseConfig('topics', { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  if (command === 'list') {
    for (const [key, name] of Object.entries(config.kafka.topics)) {
      const spec = KAFKA_TOPICS[key as keyof typeof KAFKA_TOPICS];
      process.stdout.write(`${name.padEnd(52)} ${spec.cleanupPolicy.padEnd(8)} ${spec.doc}\n`);
    }
    return;
  }
  if (command !== 'apply') {
    process.stderr.write('usage: triggers topics apply | list\n');
    process.exit(2);
  }
  const logger = createLogger({ app: 'topics', level: config.logLevel, destination: process.stderr as never });
  const admin = createKafka(config.kafka, logger).admin();
  await admin.connect();
  try {
    const provisioning = loadTopicsConfig(process.env, config.kafka.replicationFactor);
    const reports = await ensureTopics(
      admin,
      {
        topics: config.kafka.topics,
        partitions: config.kafka.partitions,
        replicationFactor: config.kafka.replicationFactor,
        minInsyncReplicas: provisioning.minInsyncReplicas,
        retentionMs: provisioning.logRetentionMs ? { log: provisioning.logRetentionMs } : undefined,
      },
      new AvroSerde(createRegistry(config.registry), config.kafka.topics),
    );
    for (const r of reports) {
      const state = r.created ? 'created' : r.drift.length > 0 ? 'differs' : 'exists ';
      process.stdout.write(`${r.name.padEnd(52)} ${state}${r.schemaId !== undefined ? `  schema id ${r.schemaId}` : ''}\n`);
      for (const d of r.drift) process.stdout.write(`    ${d}\n`);
    }
    const drifted = reports.filter((r) => r.drift.length > 0).length;
    process.stdout.write(
      `${reports.filter((r) => r.created).length} created, ${reports.filter((r) => !r.created).length} already there, ${drifted} differ from the layout` +
        ` (${config.kafka.partitions} partitions, replication ${config.kafka.replicationFactor}, min.insync.replicas ${provisioning.minInsyncReplicas})\n`,
    );
    if (drifted > 0) process.exitCode = 3;
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
