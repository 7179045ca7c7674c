import { ErrorKind, TriggersError } from './errors';

/** What {@link classify} found: the kind, the dependency concerned, a short class and the reason in words. */
export interface Classified {
  kind: ErrorKind;
  /** `schemaRegistry`, `kafka`, `mongodb`, `network`, ... when a dependency was involved. */
  dependency?: string;
  /** Short class for metrics and `dlq-error-class`. */
  errorClass: string;
  reason: string;
  /**
   * The consumer lost its group membership or its partitions moved (a rebalance, a newer
   * generation, a fenced producer): routine when instances come and go. The work in hand is
   * handed back (its next owner does it) and the consumer rejoins; nothing waits, nothing failed.
   */
  rebalance?: true;
}

/** Node and undici codes of a request that got no answer: the other side is down or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** Broker answers that mean the configuration is wrong, not the message nor a passing fault. */
const KAFKA_FATAL = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_TRANSACTION_TIMEOUT',
]);

/**
 * Broker answers that the group moved on without this member, or that a newer producer of the
 * same transactional id took over: a rebalance, transient by nature.
 */
const KAFKA_REBALANCE = new Set([
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'FENCED_INSTANCE_ID',
  'STALE_MEMBER_EPOCH',
  'FENCED_MEMBER_EPOCH',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
]);

/** Broker answers about the records sent: the message (or what it made) is the culprit. */
const KAFKA_POISON = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE']);

/** MongoDB server codes of refused credentials or rights. */
const MONGO_FATAL_CODES = new Set([13, 18, 8000]);

type Loose = {
  name?: string;
  message?: string;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  errorLabels?: unknown;
  errorLabelSet?: Set<string>;
};

const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Reads what an error means for the message being handled, by what the dependency answered (or
 * that it did not answer), never by where it was thrown. The one place the product decides
 * poison versus wait: consumer engines dead-letter only `poison`, and wait out the rest.
 *
 * - the product's own errors ({@link TriggersError}) carry their kind;
 * - the schema registry client's `ResponseError`: 404 poison (an unknown schema id), 401/403 fatal,
 *   408/429/5xx and no answer at all (see `createRegistry`) transient, other 4xx fatal;
 * - kafkajs: a lost membership or a fenced producer transient and marked `rebalance`; authorization and missing topics fatal, oversized or corrupt records poison,
 *   retriable errors and exhausted retries transient (the cause is read when it has one);
 * - the mongodb driver: network, server selection and pool errors (and the retryable labels)
 *   transient, refused credentials fatal, any other server answer poison;
 * - undici and Node network codes, `TimeoutError`/`AbortError`: transient;
 * - an HTTP status on an error: 408/429/5xx transient, 401/403 fatal, other 4xx poison;
 * - anything else, a `TypeError` from judging a strange value included: poison for that message.
 */
export function classify(err: unknown): Classified {
  const e = (err ?? {}) as Loose;
  const reason = reasonOf(err);
  if (err instanceof TriggersError) return { kind: err.kind, dependency: err.dependency, errorClass: err.code ?? err.name, reason };
  const name = typeof e.name === 'string' ? e.name : '';

  if (name === 'ResponseError' && typeof e.status === 'number') {
    const status = e.status;
    const kind: ErrorKind = status === 404 ? 'poison' : status === 408 || status === 429 || status >= 500 ? 'transient' : 'fatal';
    return { kind, dependency: 'schemaRegistry', errorClass: `registry.${status}`, reason };
  }

  if (name.startsWith('KafkaJS')) {
    const type = e.type ?? '';
    if (KAFKA_FATAL.has(type)) return { kind: 'fatal', dependency: 'kafka', errorClass: `kafka.${type}`, reason };
    if (KAFKA_REBALANCE.has(type)) return { kind: 'transient', dependency: 'kafka', errorClass: `kafka.${type}`, reason, rebalance: true };
    if (KAFKA_POISON.has(type)) return { kind: 'poison', dependency: 'kafka', errorClass: `kafka.${type}`, reason };
    if (name === 'KafkaJSNonRetriableError' && e.cause) return { ...classify(e.cause), reason };
    const kind: ErrorKind =
      e.retriable || name === 'KafkaJSNumberOfRetriesExceeded' || name === 'KafkaJSConnectionError' || name === 'KafkaJSRequestTimeoutError'
        ? 'transient'
        : 'fatal';
    return { kind, dependency: 'kafka', errorClass: type ? `kafka.${type}` : name, reason };
  }

  if (name.startsWith('Mongo')) {
    const labels = e.errorLabelSet ?? new Set(Array.isArray(e.errorLabels) ? (e.errorLabels as string[]) : []);
    if (typeof e.code === 'number' && MONGO_FATAL_CODES.has(e.code)) return { kind: 'fatal', dependency: 'mongodb', errorClass: `mongodb.${e.code}`, reason };
    const transient =
      labels.has('RetryableWriteError') ||
      labels.has('ResetPool') ||
      labels.has('TransientTransactionError') ||
      (name !== 'MongoServerError' && name !== 'MongoBulkWriteError' && name !== 'MongoWriteConcernError');
    return { kind: transient ? 'transient' : 'poison', dependency: 'mongodb', errorClass: typeof e.code === 'number' ? `mongodb.${e.code}` : name, reason };
  }

  const code = typeof e.code === 'string' ? e.code : typeof (e.cause as Loose | undefined)?.code === 'string' ? ((e.cause as Loose).code as string) : '';
  if (NETWORK_CODES.has(code)) return { kind: 'transient', dependency: 'network', errorClass: code, reason };
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'transient', dependency: 'network', errorClass: name, reason };

  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    const kind: ErrorKind = status === 408 || status === 429 || status >= 500 ? 'transient' : status === 401 || status === 403 ? 'fatal' : 'poison';
    return { kind, dependency: 'http', errorClass: `http.${status}`, reason };
  }
  return { kind: 'poison', errorClass: name || 'Error', reason };
}
