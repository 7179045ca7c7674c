/**
 * triggers admin <command>
 *   tenants create <tenantId> [--name <name>]
 *   keys create --tenant <tenantId> --permissions triggers:read,triggers:write   (prints only the key)
 *   keys revoke <keyId>
 *   keys list --tenant <tenantId>
 *   lists import --tenant <tenantId> --file <lists.csv|lists.json>   (listId, campaignId, name)
 *   leads import --tenant <tenantId> --file <leads.csv|leads.json>   (leadId, campaignId, listId)
 *   stats recount   (counts records stored before the log-sink kept stats into them; once after an upgrade)
 * Uses MONGODB_URI like the apps do.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { AccessError, AccessStore } from '@triggers/access';
import { loadBaseConfig } from '@triggers/config';
import { ImportError, connectMongo, importLeads, importLists, recountEarlierRecords } from '@triggers/mongo';
import { UsageError, runCli } from './cli';

const USAGE = `usage: triggers admin <command>
  tenants create <tenantId> [--name <name>]
  keys create --tenant <tenantId> --permissions triggers:read,triggers:write
  keys revoke <keyId>
  keys list --tenant <tenantId>
  lists import --tenant <tenantId> --file <lists.csv|lists.json>   columns: listId, campaignId, name
  leads import --tenant <tenantId> --file <leads.csv|leads.json>   columns: leadId, campaignId, listId
  (CSV with a header row, or a JSON array of objects; the embedded leads store of the lead-mover)
  stats recount   counts the event logs stored before the log-sink kept per-trigger stats into
                  them (once after upgrading; safe to repeat, reads every record)
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { name: { type: 'string' }, tenant: { type: 'string' }, permissions: { type: 'string' }, file: { type: 'string' }, help: { type: 'boolean' } },
  });
  const [area, action, arg] = positionals;
  if (values.help || !area) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadBaseConfig('admin', process.env);
  const mongo = await connectMongo(config.mongodbUri);
  try {
    const store = new AccessStore(mongo.db);
    await store.ensureIndexes();
    const command = `${area} ${action ?? ''}`.trim();
    switch (command) {
      case 'tenants create': {
        if (!arg) throw new UsageError('tenants create needs a tenant id');
        const t = await store.createTenant(arg, values.name);
        process.stdout.write(`${t._id}\n`);
        break;
      }
      case 'keys create': {
        if (!values.tenant) throw new UsageError('keys create needs --tenant <tenantId>');
        if (!values.permissions) throw new UsageError('keys create needs --permissions triggers:read,triggers:write');
        const perms = values.permissions
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        const { key } = await store.createKey(values.tenant, perms);
        // Only the key on stdout: scripts capture it with $(...).
        process.stdout.write(`${key}\n`);
        break;
      }
      case 'keys revoke': {
        if (!arg) throw new UsageError('keys revoke needs a key id');
        if (!(await store.revokeKey(arg))) throw new AccessError(`no active key "${arg}"`);
        process.stderr.write(`revoked ${arg}\n`);
        break;
      }
      case 'keys list': {
        if (!values.tenant) throw new UsageError('keys list needs --tenant <tenantId>');
        for (const k of await store.listKeys(values.tenant)) {
          process.stdout.write(
            `${k._id}  ${k.permissions.join(',')}  created ${k.createdAt.toISOString()}${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ''}\n`,
          );
        }
        break;
      }
      case 'lists import':
      case 'leads import': {
        if (!values.tenant) throw new UsageError(`${command} needs --tenant <tenantId>`);
        if (!values.file) throw new UsageError(`${command} needs --file <path.csv|path.json>`);
        const rows = readRows(values.file);
        const n = area === 'lists' ? await importLists(mongo.db, values.tenant, rows) : await importLeads(mongo.db, values.tenant, rows);
        process.stderr.write(`imported ${n} ${area} for tenant ${values.tenant}\n`);
        break;
      }
      case 'stats recount': {
        const started = Date.now();
        const { records, documents } = await recountEarlierRecords(mongo.db, Date.now(), (n) => {
          if (n % 100_000 === 0) process.stderr.write(`read ${n} records…\n`);
        });
        process.stderr.write(
          `counted ${records} records stored before the stats into ${documents} documents in ${Math.round((Date.now() - started) / 1000)} s\n`,
        );
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await mongo.client.close();
  }
}

/** Rows of a CSV file (header row) or a JSON array of objects. */
function readRows(file: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (extname(file).toLowerCase() === '.json') {
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new UsageError(`${file} must hold a JSON array of objects`);
    return rows as Record<string, unknown>[];
  }
  try {
    return parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, unknown>[];
  } catch (err) {
    throw new UsageError(`${file} is not valid CSV: ${(err as Error).message}`);
  }
}

runCli(main, { usage: USAGE, isUsage: (err) => err instanceof AccessError || err instanceof ImportError });
