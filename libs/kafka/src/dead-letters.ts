import type { KafkaMessage, Message } from 'kafkajs';

/** Where a message was read. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
}

/**
 * A message for a dead-letter topic: the original key, value and headers, plus why it could not
 * be handled and where it came from (`dlq-reason`, `dlq-source-topic`, `dlq-source-partition`,
 * `dlq-source-offset`, `dlq-at`, and `dlq-error-class` when given), so it can be inspected and
 * replayed to its source.
 */
export function deadLetter(message: KafkaMessage, source: DeadLetterSource, reason: string, errorClass?: string): Message {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...(message.headers ?? {}),
      'dlq-reason': reason,
      ...(errorClass ? { 'dlq-error-class': errorClass } : {}),
      'dlq-source-topic': source.topic,
      'dlq-source-partition': String(source.partition),
      'dlq-source-offset': message.offset,
      'dlq-at': new Date().toISOString(),
    },
  };
}
