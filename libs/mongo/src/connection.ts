import { Db, MongoClient } from 'mongodb';
import { retryWithBackoff } from '@triggers/errors';
import type { Logger } from '@triggers/logging';

/** A connected client and the database named in the URI. */
export interface MongoHandle {
  client: MongoClient;
  db: Db;
}

/**
 * Connects to MongoDB (or FerretDB, which speaks its wire protocol) and returns the database the
 * URI names. The code built on this uses no multi-document transactions, change streams or
 * `$lookup`, and no keys with dots, so both servers behave the same.
 */
export async function connectMongo(uri: string, options: { serverSelectionTimeoutMS?: number } = {}): Promise<MongoHandle> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5_000,
    appName: 'triggers',
  });
  await client.connect();
  return { client, db: client.db() };
}

/** True when the server answers a ping within its selection timeout. */
export async function pingMongo(db: Db): Promise<boolean> {
  try {
    await db.command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The app's MongoDB handle, also when the database is down at start-up: the app starts and
 * /healthz reports it. The driver closes its topology when a connection attempt fails, and a
 * client whose first connection failed that way answers "Topology is closed" for good; so the
 * same client is connected again in the background, with backoff, until the database answers.
 * Every service keeps the `db` it took, which works from then on; their writes wait meanwhile.
 */
export async function connectMongoLazily(uri: string, logger: Logger): Promise<MongoHandle> {
  try {
    return await connectMongo(uri);
  } catch (err) {
    logger.warn({ err }, 'MongoDB is not reachable yet; connecting in the background');
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, appName: 'triggers' });
    let closed = false;
    const close = client.close.bind(client);
    client.close = (force?: boolean) => {
      closed = true;
      return close(force);
    };
    void retryWithBackoff(() => client.connect(), {
      firstMs: 1_000,
      maxMs: 15_000,
      stopped: () => closed,
      onFailure: (e, retryInMs) => logger.warn({ err: (e as Error).message, retryInMs }, 'MongoDB still not reachable; connecting again'),
    }).then((connected) => connected && logger.info('MongoDB reachable; connected'));
    return { client, db: client.db() };
  }
}
