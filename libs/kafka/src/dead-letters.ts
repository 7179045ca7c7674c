import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { DEAD_LETTER_HEADERS } from '@triggers/contracts';
import { Classified } from '@triggers/errors';

/** Where a message was read. */
export interface MessageSource {
  topic: string;
  partition: number;
}

/**
 * Largest dead letter sent whole (key, value and headers), under the broker's default
 * `max.message.bytes` (1 MiB + 12) with room for the record batch's own framing.
 */
export const DEFAULT_DEAD_LETTER_MAX_BYTES = 1_000_000;

const headerBytes = (headers: IHeaders | undefined): number => {
  let n = 0;
  for (const [k, v] of Object.entries(headers ?? {}))
    n += k.length + (Array.isArray(v) ? v.reduce((s, x) => s + String(x).length, 0) : v ? Buffer.byteLength(v as Buffer | string) : 0) + 8;
  return n;
};

/**
 * A message for a dead-letter topic: the original key, value and headers, plus why it could not
 * be handled and where it came from (`dlq-reason`, `dlq-error-class`, `dlq-source-topic`,
 * `dlq-source-partition`, `dlq-source-offset`, `dlq-at`), so it can be inspected and replayed to
 * its source. A message that would not fit under `maxBytes` with those headers (one just under
 * the source topic's limit) keeps a prefix of its value, marked `dlq-truncated: true` with
 * `dlq-original-size`: its source offset still finds the whole original while retention lasts.
 */
export function deadLetter(
  message: KafkaMessage,
  source: MessageSource,
  why: Pick<Classified, 'reason' | 'errorClass'>,
  maxBytes = DEFAULT_DEAD_LETTER_MAX_BYTES,
): Message {
  const headers: IHeaders = {
    ...(message.headers ?? {}),
    [DEAD_LETTER_HEADERS.reason]: why.reason.slice(0, 2000),
    [DEAD_LETTER_HEADERS.errorClass]: why.errorClass,
    [DEAD_LETTER_HEADERS.sourceTopic]: source.topic,
    [DEAD_LETTER_HEADERS.sourcePartition]: String(source.partition),
    [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
    [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
  };
  let value = message.value;
  const room = maxBytes - (message.key?.length ?? 0) - headerBytes(headers) - 128;
  if (value && value.length > room) {
    headers[DEAD_LETTER_HEADERS.truncated] = 'true';
    headers[DEAD_LETTER_HEADERS.originalSize] = String(value.length);
    value = value.subarray(0, Math.max(0, room));
  }
  return { key: message.key, value, headers };
}
