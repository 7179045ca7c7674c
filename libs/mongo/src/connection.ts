import { Db, MongoClient } from 'mongodb';

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
