import type { Db } from 'mongodb';

/** Collections of the embedded leads store (the lead-mover's `mongo` adapter). */
export const LEADS_COLLECTION = 'leads';
export const LISTS_COLLECTION = 'lists';

/** A lead, `_id` = `<tenantId>/<leadId>`. */
export interface LeadDocument {
  _id: string;
  tenantId: string;
  leadId: string;
  campaignId: string;
  listId: string;
  /** The last lead commands applied to this lead, so one delivered twice is applied once. */
  appliedCommandIds: string[];
  updatedAt: Date;
}

/** A list of a campaign, `_id` = `<tenantId>/<listId>`. */
export interface ListDocument {
  _id: string;
  tenantId: string;
  listId: string;
  campaignId: string;
  name: string;
}

/** How many applied command ids a lead keeps (far more than moves a lead sees between two crashes). */
export const APPLIED_COMMANDS_KEPT = 50;

/** Creates the indexes of the leads store (idempotent). */
export async function ensureLeadIndexes(db: Db): Promise<void> {
  await db.collection(LEADS_COLLECTION).createIndex({ tenantId: 1, campaignId: 1, listId: 1 });
  await db.collection(LISTS_COLLECTION).createIndex({ tenantId: 1, campaignId: 1 });
}
