import type { Db } from 'mongodb';
import { z } from 'zod';
import { leadKey, listKey } from '@triggers/contracts';
import { bulkWriteInChunks } from '../bulk-write';
import { LEADS_COLLECTION, LISTS_COLLECTION, LeadDocument, ListDocument, ensureLeadIndexes } from './lead.documents';

const id = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);
const leadRow = z.object({ leadId: id, campaignId: id, listId: id });
const listRow = z.object({ listId: id, campaignId: id, name: z.string().min(1) });

/** A row that does not fit, with its 1-based position and what is wrong. */
export class ImportError extends Error {
  constructor(readonly problems: string[]) {
    super(`${problems.length} invalid row(s):\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`);
    this.name = 'ImportError';
  }
}

function validate<T>(rows: Record<string, unknown>[], schema: z.ZodType<T>): T[] {
  const problems: string[] = [];
  const valid = rows.map((row, i) => {
    const r = schema.safeParse(row);
    if (!r.success) problems.push(`row ${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.') || '(row)'} ${x.message}`).join('; ')}`);
    return r.success ? r.data : undefined;
  });
  if (problems.length > 0) throw new ImportError(problems);
  return valid as T[];
}

/**
 * Adds or updates lists of a tenant (`listId`, `campaignId`, `name` per row). All rows are checked
 * first: one bad row and nothing is written.
 */
export async function importLists(db: Db, tenantId: string, rows: Record<string, unknown>[]): Promise<number> {
  const lists = validate(rows, listRow);
  if (lists.length === 0) return 0;
  await ensureLeadIndexes(db);
  await bulkWriteInChunks(
    db.collection<ListDocument>(LISTS_COLLECTION),
    lists.map((l) => ({ replaceOne: { filter: { _id: listKey(tenantId, l.listId) }, replacement: { tenantId, ...l }, upsert: true } })),
    { ordered: false },
  );
  return lists.length;
}

/**
 * Adds or updates leads of a tenant (`leadId`, `campaignId`, `listId` per row), keeping the
 * applied-command history of leads already there. All rows are checked first.
 */
export async function importLeads(db: Db, tenantId: string, rows: Record<string, unknown>[]): Promise<number> {
  const leads = validate(rows, leadRow);
  if (leads.length === 0) return 0;
  await ensureLeadIndexes(db);
  const now = new Date();
  await bulkWriteInChunks(
    db.collection<LeadDocument>(LEADS_COLLECTION),
    leads.map((l) => ({
      updateOne: {
        filter: { _id: leadKey(tenantId, l.leadId) },
        update: { $set: { tenantId, ...l, updatedAt: now }, $setOnInsert: { appliedCommandIds: [] } },
        upsert: true,
      },
    })),
    { ordered: false },
  );
  return leads.length;
}
