import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Type } from 'avsc';
import TimeoutMiddleware from 'mappersmith/middleware/timeout';
import type { Middleware } from 'mappersmith';
import type { RegistryConfig } from '@triggers/config';
import { FatalError, TransientError, classify } from '@triggers/errors';
import {
  AVRO_OPTIONS,
  ContractError,
  ConversionNotes,
  RecordTopicKey,
  TopicNames,
  avroToJson,
  contractType,
  jsonToAvro,
  schemaCatalog,
  valueSchemaOf,
} from '@triggers/contracts';

const MAGIC_BYTE = 0;

/** How often a registration refused for its subject's compatibility level is tried again (see registerOnce). */
const COMPATIBILITY_RACE_ATTEMPTS = 5;

/** How long one registry request may take before it is abandoned and tried again. */
const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

/** A registry answer worth asking again: a server error, or no answer in time. */
const retriable = (response: { status(): number; error(): unknown }) =>
  response.status() >= 500 ||
  (response.error() as { name?: string } | undefined)?.name === 'TimeoutError' ||
  /^Timeout \(/.test(String((response.error() as Error | undefined)?.message ?? ''));

/** What Node (or mappersmith's timeout) says when a request got no answer at all. */
const NO_ANSWER = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|EPIPE)\b|socket hang up|Timeout \(\d+ms\)/;

/**
 * mappersmith reports a request that got no answer at all (connection refused, reset, DNS) as a
 * response with status 400, and the registry client turns it into a `ResponseError` with status
 * 400, which would read as "the registry refused this request". A registry's own 400 carries its
 * JSON message instead of `Error, status 400: <network error>`; this middleware (outermost, after
 * the client's error middleware) gives the no-answer case status 503, so the error says what the
 * registry answered: nothing.
 */
const noAnswerIsUnavailable: Middleware = () => ({
  response: (next) =>
    next().catch((err: { status?: number; message?: string }) => {
      if (err?.status === 400 && /Error, status 400: /.test(err.message ?? '') && NO_ANSWER.test(err.message ?? '')) {
        err.status = 503;
        err.message = `no answer from the schema registry: ${err.message}`;
      }
      throw err;
    }),
});

/** Connects to a Confluent-API-compatible schema registry with the project's avsc options. */
export function createRegistry(config: RegistryConfig): SchemaRegistry {
  return new SchemaRegistry(
    // Without a timeout a request the registry never answers would wait for ever; registering
    // an unchanged schema again is harmless, so timed-out requests are retried like 5xx ones.
    {
      host: config.url,
      auth: config.auth,
      retry: { retries: 3, validateRetry: retriable as never },
      middlewares: [TimeoutMiddleware(REGISTRY_REQUEST_TIMEOUT_MS), noAnswerIsUnavailable],
    },
    { [SchemaType.AVRO]: { ...AVRO_OPTIONS } },
  );
}

/** The registry could not be reached or answered with a server error: try again later. */
export class RegistryUnavailableError extends TransientError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause, dependency: 'schemaRegistry', code: 'registry.unavailable' });
  }
}

/** The registry refused the request for a reason a retry soon will not fix (credentials, an incompatible schema). */
export class RegistryRefusedError extends FatalError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause, dependency: 'schemaRegistry', code: 'registry.refused' });
  }
}

/** The registry's error, read by what it answered: unreachable or 5xx waits, refusals are fatal, 404 is the message's fault. */
function registryError(what: string, err: unknown, notFound: () => Error): Error {
  const { kind } = classify(err);
  if (kind === 'poison') return notFound();
  if (kind === 'transient') return new RegistryUnavailableError(`schema registry unavailable while ${what}: ${String(err)}`, err);
  return new RegistryRefusedError(`schema registry refused ${what}: ${String(err)}`, err);
}

/** The result of {@link AvroSerde.decode}. */
export interface Decoded<T> {
  schemaId: number;
  /** Full name of the writer's record, e.g. `triggers.events.AgentWrapEvent`. */
  schemaName: string;
  value: T;
}

/**
 * Writes and reads JSON values as Confluent wire-format Avro (magic byte, 4-byte schema id, Avro
 * body), with subjects named by TopicNameStrategy (`<topic>-value`). Decoding walks the writer's
 * schema, so fields a newer producer added come through unchanged.
 */
export class AvroSerde {
  private readonly ids = new Map<string, Promise<number>>();
  /** Writer schemas already fetched, by id: decoding a known id needs no promise. */
  private readonly writerTypes = new Map<number, Type>();
  /** Where encoders write before copying out exactly the bytes used; grown on demand. */
  private scratch = Buffer.allocUnsafe(64 * 1024);

  /**
   * @param topics the topic names in force: values are encoded by topic key, with the schema the
   *   topic declares ({@link valueSchemaOf}), the one home of topic ↔ schema.
   */
  constructor(
    readonly registry: SchemaRegistry,
    readonly topics: TopicNames,
  ) {}

  /**
   * Registers the schema `key`'s topic declares under `<topic>-value` and returns its id.
   * Registering an unchanged schema again returns the same id, so this is safe at every start.
   */
  register(key: RecordTopicKey): Promise<number> {
    const topic = this.topics[key];
    const schemaName = valueSchemaOf(key);
    let id = this.ids.get(topic);
    if (!id) {
      id = this.registerOnce(`${topic}-value`, JSON.stringify(schemaCatalog().selfContained(schemaName))).catch((err: unknown) => {
        this.ids.delete(topic);
        throw registryError(
          `registering ${schemaName} for ${topic}`,
          err,
          () => new RegistryRefusedError(`registering ${schemaName} for ${topic}: ${String(err)}`, err),
        );
      });
      this.ids.set(topic, id);
    }
    return id;
  }

  /**
   * The registry client checks a subject's own compatibility level before registering and, on a
   * subject's first registration, sets it to BACKWARD just after. Processes registering the same
   * new subject at once (apps starting together) race through those steps: one reads the
   * registry's default level for a subject without its own (NONE on Apicurio) and is refused, or
   * two both set the level and the second is told it exists. Either way the schema is registered
   * by then, so a refused registration looks its id up; one still missing is tried again shortly.
   */
  private async registerOnce(subject: string, schema: string): Promise<number> {
    const confluentSchema = { type: SchemaType.AVRO, schema } as const;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.registry.register(confluentSchema, { subject })).id;
      } catch (err) {
        if (classify(err).kind === 'transient') throw err;
        const known = await this.registry.getRegistryIdBySchema(subject, confluentSchema).catch(() => undefined);
        if (known !== undefined) return known;
        const compatibilityRace = (err as Error | undefined)?.name === 'ConfluentSchemaRegistryCompatibilityError';
        if (!compatibilityRace || attempt >= COMPATIBILITY_RACE_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  /**
   * A synchronous encoder of the records `key`'s topic carries, once its schema is registered:
   * hot loops take it once per batch instead of awaiting every message.
   * The encoder throws ContractError when a value does not fit the schema (not retriable).
   */
  async encoderFor(key: RecordTopicKey): Promise<(value: unknown, notes?: ConversionNotes) => Buffer> {
    const type = contractType(valueSchemaOf(key));
    const id = await this.register(key);
    return (value, notes) => this.encodeWith(type, id, jsonToAvro(type, value, '', notes));
  }

  /**
   * Encodes `value` as a record of `key`'s topic.
   * @throws ContractError when the value does not fit the schema (not retriable).
   */
  async encode(key: RecordTopicKey, value: unknown, notes?: ConversionNotes): Promise<Buffer> {
    return (await this.encoderFor(key))(value, notes);
  }

  /** Header and body written once into the scratch buffer, then copied out at their exact size. */
  private encodeWith(type: Type, id: number, avroValue: unknown): Buffer {
    let end = type.encode(avroValue, this.scratch, 5);
    if (end < 0) {
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end));
      end = type.encode(avroValue, this.scratch, 5);
    }
    this.scratch.writeUInt8(MAGIC_BYTE, 0);
    this.scratch.writeInt32BE(id, 1);
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    return out;
  }

  /**
   * Decodes a wire-format message to JSON.
   * @throws ContractError for bytes that are not Confluent Avro, an unknown schema id or a body
   *   that does not decode (poison); RegistryUnavailableError when the registry is down or
   *   answers 5xx (transient); RegistryRefusedError when it refuses the client (fatal).
   */
  async decode<T = unknown>(message: Buffer | null): Promise<Decoded<T>> {
    const known = this.decodeKnown<T>(message);
    if (known) return known;
    const schemaId = message!.readInt32BE(1);
    return this.decodeWith<T>(await this.writerType(schemaId), schemaId, message!);
  }

  /**
   * Decodes synchronously when the writer's schema was fetched before (every message after the
   * first of a schema); undefined when it must be fetched first, with {@link decode}.
   * @throws ContractError as {@link decode} does.
   */
  decodeKnown<T = unknown>(message: Buffer | null): Decoded<T> | undefined {
    if (!message || message.length < 5) throw new ContractError('message is empty or shorter than the 5-byte Avro header', '', 'not_avro');
    if (message.readUInt8(0) !== MAGIC_BYTE) {
      throw new ContractError(`not Confluent Avro: first byte is ${message.readUInt8(0)}, expected 0`, '', 'not_avro');
    }
    const schemaId = message.readInt32BE(1);
    const type = this.writerTypes.get(schemaId);
    return type ? this.decodeWith<T>(type, schemaId, message) : undefined;
  }

  private decodeWith<T>(type: Type, schemaId: number, message: Buffer): Decoded<T> {
    let raw: unknown;
    try {
      raw = type.fromBuffer(message.subarray(5));
    } catch (err) {
      throw new ContractError(`Avro body does not decode with schema ${schemaId}: ${(err as Error).message}`, '');
    }
    return { schemaId, schemaName: type.name ?? String(schemaId), value: avroToJson(type, raw) as T };
  }

  private async writerType(schemaId: number): Promise<Type> {
    try {
      const type = (await this.registry.getSchema(schemaId)) as unknown as Type;
      this.writerTypes.set(schemaId, type);
      return type;
    } catch (err) {
      throw registryError(`reading schema ${schemaId}`, err, () => new ContractError(`unknown schema id ${schemaId}`, '', 'unknown_schema'));
    }
  }
}
