/**
 * triggers kafka-versions — checks a Kafka release against the client: asks a broker (KAFKA_BROKERS) for
 * the request versions it accepts (ApiVersions v0, spoken directly, so any release answers) and
 * prints, for every request kafkajs implements, the version kafkajs will send (the highest both
 * support) or that there is none. Exits 1 when a request kafkajs can send has no version in common
 * with the broker. Run it against a new Kafka release before moving to it.
 */
import { connect } from 'node:net';
import { loadBaseConfig } from '@triggers/config';

// kafkajs's own tables (the pinned 2.2.4): request names to API keys, and the versions it implements.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys') as Record<string, number>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { requests } = require('kafkajs/src/protocol/requests') as { requests: Record<string, { versions: string[] }> };

/** The broker's accepted range per API key, from an ApiVersions v0 request. */
function brokerRanges(host: string, port: number): Promise<Map<number, { min: number; max: number }>> {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('triggers-kafka-versions');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
    body.writeInt16BE(apiKeys.ApiVersions, 0);
    body.writeInt16BE(0, 2);
    body.writeInt32BE(1, 4);
    body.writeInt16BE(clientId.length, 8);
    clientId.copy(body, 10);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length, 0);
    const socket = connect({ host, port }, () => socket.write(Buffer.concat([size, body])));
    let data = Buffer.alloc(0);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer from ${host}:${port}`)));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4 || data.length < 4 + data.readInt32BE(0)) return;
      socket.end();
      const errorCode = data.readInt16BE(8);
      if (errorCode !== 0) return reject(new Error(`ApiVersions answered error code ${errorCode}`));
      const count = data.readInt32BE(10);
      const ranges = new Map<number, { min: number; max: number }>();
      for (let i = 0, at = 14; i < count; i++, at += 6) ranges.set(data.readInt16BE(at), { min: data.readInt16BE(at + 2), max: data.readInt16BE(at + 4) });
      resolve(ranges);
    });
  });
}

async function main(): Promise<void> {
  const config = loadBaseConfig('kafka-versions', process.env);
  const [host, port] = config.kafka.brokers[0].split(':');
  const ranges = await brokerRanges(host, Number(port));
  let missing = 0;
  process.stdout.write(`${'request'.padEnd(24)}${'kafkajs'.padEnd(12)}${'broker'.padEnd(10)}sent\n`);
  for (const [name, definition] of Object.entries(requests)) {
    const versions = definition.versions.map(Number);
    if (versions.length === 0) continue;
    const range = ranges.get(apiKeys[name]);
    const common = range ? versions.filter((v) => v >= range.min && v <= range.max) : [];
    const sent = common.length > 0 ? `v${Math.max(...common)}${Math.max(...common) === range!.min ? " (the broker's floor)" : ''}` : 'NONE';
    if (common.length === 0 && range) missing++;
    process.stdout.write(
      `${name.padEnd(24)}${`${Math.min(...versions)}-${Math.max(...versions)}`.padEnd(12)}${(range ? `${range.min}-${range.max}` : 'absent').padEnd(10)}${sent}\n`,
    );
  }
  if (missing > 0) {
    process.stderr.write(`${missing} request(s) have no version in common with this broker\n`);
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`kafka:versions: ${err.message}\n`);
  process.exit(2);
});
