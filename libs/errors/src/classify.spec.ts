import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Kafka, KafkaJSNonRetriableError, KafkaJSProtocolError, logLevel } from 'kafkajs';
import { MongoClient, MongoServerError } from 'mongodb';
import { request } from 'undici';
import { ContractError } from '@triggers/contracts';
import { createRegistry } from '@triggers/kafka';
import { classify } from './classify';
import { FatalError, PoisonError, TransientError } from './errors';

// kafkajs builds a broker's error answer with this factory; the tests do the same.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };

/** The error `fn` rejects with. */
async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** A loopback port nothing listens on: connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A loopback HTTP server answering every request with `status` and a registry-style JSON body (or never, for null). */
async function answering(status: number | null): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (status === null) return;
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify({ error_code: status * 100 + 1, message: `answered ${status}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('classify, on the errors the real clients throw', () => {
  describe('schema registry client (by what the registry answered)', () => {
    const servers: Server[] = [];
    afterAll(() => servers.forEach((s) => s.close()));

    it('no answer at all (connection refused) is transient, not a refusal', async () => {
      const registry = createRegistry({ url: `http://127.0.0.1:${await closedPort()}` });
      const err = await caught(() => registry.getSchema(8));
      expect(classify(err)).toMatchObject({ kind: 'transient', dependency: 'schemaRegistry' });
    });

    it.each([
      [404, 'poison'],
      [401, 'fatal'],
      [403, 'fatal'],
      [422, 'fatal'],
      [429, 'transient'],
      [500, 'transient'],
      [503, 'transient'],
    ])('an answer of %i is %s', async (status, kind) => {
      const { url, server } = await answering(status);
      servers.push(server);
      const err = await caught(() => createRegistry({ url }).getSchema(8));
      expect(classify(err)).toMatchObject({ kind, dependency: 'schemaRegistry', errorClass: `registry.${status}` });
    });
  });

  describe('kafkajs', () => {
    it('a broker that cannot be reached is transient', async () => {
      const kafka = new Kafka({ brokers: [`127.0.0.1:${await closedPort()}`], logLevel: logLevel.NOTHING, connectionTimeout: 300, retry: { retries: 0 } });
      const admin = kafka.admin();
      const err = await caught(() => admin.connect());
      expect(classify(err)).toMatchObject({ kind: 'transient', dependency: 'kafka' });
    });

    it.each([
      [29, 'fatal', 'TOPIC_AUTHORIZATION_FAILED'],
      [3, 'fatal', 'UNKNOWN_TOPIC_OR_PARTITION'],
      [10, 'poison', 'MESSAGE_TOO_LARGE'],
      [14, 'transient', 'GROUP_LOAD_IN_PROGRESS'],
      [7, 'transient', 'REQUEST_TIMED_OUT'],
    ])('broker error code %i is %s (%s)', (code, kind, type) => {
      const err = new KafkaJSProtocolError(createErrorFromCode(code) as never);
      expect(classify(err)).toMatchObject({ kind, dependency: 'kafka', errorClass: `kafka.${type}` });
    });

    it.each([
      [25, 'UNKNOWN_MEMBER_ID'],
      [27, 'REBALANCE_IN_PROGRESS'],
      [22, 'ILLEGAL_GENERATION'],
      [47, 'INVALID_PRODUCER_EPOCH'],
    ])('broker error code %i (%s) is a rebalance: transient, never fatal', (code, type) => {
      const err = new KafkaJSProtocolError(createErrorFromCode(code) as never);
      expect(classify(err)).toMatchObject({ kind: 'transient', dependency: 'kafka', errorClass: `kafka.${type}`, rebalance: true });
    });

    it('a non-retriable wrapper is read by its cause', () => {
      const cause = new KafkaJSProtocolError(createErrorFromCode(14) as never);
      expect(classify(new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(cause, { cause }))).toMatchObject({
        kind: 'transient',
        dependency: 'kafka',
      });
    });
  });

  describe('mongodb driver', () => {
    it('a server that cannot be selected is transient', async () => {
      const client = new MongoClient(`mongodb://127.0.0.1:${await closedPort()}/x`, { serverSelectionTimeoutMS: 300 });
      const err = await caught(() => client.db().command({ ping: 1 }));
      await client.close();
      expect(classify(err)).toMatchObject({ kind: 'transient', dependency: 'mongodb' });
    });

    it('refused credentials are fatal; any other server answer is poison', () => {
      expect(classify(new MongoServerError({ code: 18, errmsg: 'Authentication failed.' }))).toMatchObject({ kind: 'fatal', dependency: 'mongodb' });
      expect(classify(new MongoServerError({ code: 2, errmsg: 'BadValue' }))).toMatchObject({ kind: 'poison', dependency: 'mongodb' });
    });
  });

  describe('undici', () => {
    it('connection refused and a headers timeout are transient', async () => {
      const port = await closedPort();
      const refused = await caught(() => request(`http://127.0.0.1:${port}/`));
      expect(classify(refused)).toMatchObject({ kind: 'transient', errorClass: 'ECONNREFUSED' });
      const { url, server } = await answering(null);
      const slow = await caught(() => request(url, { headersTimeout: 100 }));
      server.closeAllConnections();
      server.close();
      expect(classify(slow)).toMatchObject({ kind: 'transient', errorClass: 'UND_ERR_HEADERS_TIMEOUT' });
    });
  });

  describe("the product's own errors and the rest", () => {
    it('carry their kind, dependency and code', () => {
      expect(classify(new TransientError('down', { dependency: 'leadsStore', code: 'store.down' }))).toEqual({
        kind: 'transient',
        dependency: 'leadsStore',
        errorClass: 'store.down',
        reason: 'down',
      });
      expect(classify(new FatalError('no rights'))).toMatchObject({ kind: 'fatal', errorClass: 'FatalError' });
      expect(classify(new PoisonError('bad'))).toMatchObject({ kind: 'poison' });
      expect(classify(new ContractError('not Avro', '', 'not_avro'))).toMatchObject({ kind: 'poison', errorClass: 'not_avro' });
    });

    it('an unexpected exception while judging one message is poison for that message', () => {
      let thrown: unknown;
      try {
        (null as unknown as { type: string }).type.toString();
      } catch (err) {
        thrown = err;
      }
      expect(classify(thrown)).toMatchObject({ kind: 'poison', errorClass: 'TypeError' });
      expect(classify('a string')).toMatchObject({ kind: 'poison' });
    });
  });
});
