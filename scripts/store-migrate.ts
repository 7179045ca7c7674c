/**
 * npm run -s store:migrate [-- --from <mongodb-uri> --to <mongodb-uri>]
 *
 * Copies a store into another, every database, collection, index and document, then checks each
 * collection's count and checksum on both sides, and records itself in the target so it never
 * runs twice over it. With no arguments it copies the local profile's embedded store of the old
 * layout (`.infra/local/ferretdb/data`) into the current one (`.infra/local/ferretdb/store-2`),
 * serving each with a FerretDB of its own while `npm start` is stopped; the old folder is kept.
 * With URIs that name a database, that database only is copied into the target's.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { loadInfraConfig } from '@triggers/config';
import { FERRETDB_STORES, RunningFerretDB, ferretdbStoreDir, freePort, isPortOpen, repoRoot, startFerretDB } from '@triggers/local-infra';
import { MigrationError, checkTarget, copyDatabase, dataDatabases, recordMigration, type CollectionCopy } from '@triggers/mongo';
import { UsageError, runCli } from '../cli/src/cli';

const USAGE = `usage: npm run -s store:migrate [-- --from <mongodb-uri> --to <mongodb-uri>]
  no arguments: the local embedded store of the old layout (.infra/local/ferretdb/${FERRETDB_STORES.legacy})
                into the current one (.infra/local/ferretdb/${FERRETDB_STORES.current}); stop npm start first
  --from, --to: any two MongoDB servers; a database in the URI copies that database only
`;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** A FerretDB serving one store folder of the local profile on a free port, for this run only. */
async function serveStore(store: string): Promise<RunningFerretDB> {
  return startFerretDB(loadInfraConfig({ ...process.env, INFRA_MONGO_PORT: String(await freePort()) }, repoRoot(), 'local'), store);
}

/** The database a URI names, if any (`mongodb://host:port/name`). */
function databaseOf(uri: string): string | undefined {
  const path = new URL(uri).pathname.replace(/^\//, '');
  return path === '' ? undefined : decodeURIComponent(path);
}

async function migrate(fromUri: string, toUri: string, label: string): Promise<CollectionCopy[]> {
  const source = await MongoClient.connect(fromUri);
  const target = await MongoClient.connect(toUri);
  try {
    const named = databaseOf(fromUri);
    const databases = named ? [named] : await dataDatabases(source);
    const pairs = databases.map((name) => ({ source: source.db(name), target: target.db(named ? (databaseOf(toUri) ?? name) : name) }));
    await checkTarget(target, pairs);
    say(`copying ${databases.length} database(s) from ${label}`);
    const copies: CollectionCopy[] = [];
    for (const pair of pairs) copies.push(...(await copyDatabase(pair.source, pair.target, say)));
    await recordMigration(
      target,
      label,
      pairs.map((p) => p.target.databaseName),
      copies,
    );
    const documents = copies.reduce((n, c) => n + c.documents, 0);
    say(`migrated ${copies.length} collection(s), ${documents.toLocaleString('en')} documents; counts and checksums match on both sides`);
    return copies;
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.from || values.to) {
    if (!values.from || !values.to) throw new UsageError('give both --from and --to, or neither');
    if (values.from === values.to) throw new UsageError('--from and --to are the same store');
    await migrate(values.from, values.to, values.from);
    return;
  }
  const infra = loadInfraConfig(process.env, repoRoot(), 'local');
  const legacy = ferretdbStoreDir(infra, FERRETDB_STORES.legacy);
  const current = ferretdbStoreDir(infra);
  if (!existsSync(legacy)) throw new MigrationError(`nothing to migrate: there is no store of the old layout at ${legacy}`);
  if (await isPortOpen(infra.mongo.port)) {
    throw new MigrationError(`something serves port ${infra.mongo.port} (npm start?): stop it first, so the store does not change while it is copied`);
  }
  const created = !existsSync(current);
  const from = await serveStore(FERRETDB_STORES.legacy);
  let to: RunningFerretDB | undefined;
  let done = false;
  try {
    mkdirSync(current, { recursive: true }); // the target is served even though the old store is beside it
    to = await serveStore(FERRETDB_STORES.current);
    await migrate(from.uri(), to.uri(), legacy);
    done = true;
  } finally {
    await Promise.all([from.stop(), to?.stop()]);
    // A copy that failed leaves no half store behind (the next npm start would serve it).
    if (!done && created) rmSync(current, { recursive: true, force: true });
  }
  say(`npm start now serves ${current}; the old store is kept at ${legacy}: remove it when you no longer need it`);
}

runCli(main, { usage: USAGE });
