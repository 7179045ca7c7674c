import { Kafka, KafkaMessage } from 'kafkajs';
import { readTopicRange } from '@triggers/kafka';
import { uniqueId } from './test-context';
import { waitFor } from '@triggers/local-infra';

/**
 * Reads a topic from the beginning with its own fresh group until `expected` messages arrived
 * (or `timeoutMs` passed), then stops. `readUncommitted` shows aborted transactional writes too,
 * which tests use to prove that `read_committed` readers do not see them.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  { expected, timeoutMs = 20_000, readUncommitted = false }: { expected: number; timeoutMs?: number; readUncommitted?: boolean },
): Promise<KafkaMessage[]> {
  // A short fetch wait: disconnect waits for the fetch in flight (5 s by default).
  const consumer = kafka.consumer({ groupId: uniqueId('reader'), readUncommitted, maxWaitTimeInMs: 200 });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message);
      },
    });
    await waitFor(() => seen.length >= expected, { timeoutMs, description: `${expected} messages on ${topic}` }).catch(() => undefined);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/**
 * How many committed records a topic holds, read to the end it has now. Its end offsets count
 * transaction markers too (a new owner of a matcher partition writes abort markers to every
 * topic the matcher writes to, the dead-letter topic included), so they are no count of records.
 */
export function countRecords(kafka: Kafka, topic: string): Promise<number> {
  return readTopicRange(kafka, topic, {}, () => undefined);
}
