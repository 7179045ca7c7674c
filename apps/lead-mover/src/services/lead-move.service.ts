import type { LeadCommand } from '@triggers/contracts';
import { LeadsStore, LeadsStoreUnavailableError } from './leads.store';

/** What became of a lead command, as the log topic records it. */
export interface LeadMoveOutcome {
  step: 'lead.moved' | 'lead.noop' | 'lead.rejected';
  status: 'ok' | 'info' | 'failed';
  message: string;
}

const moved = (message: string): LeadMoveOutcome => ({ step: 'lead.moved', status: 'ok', message });
const noop = (message: string): LeadMoveOutcome => ({ step: 'lead.noop', status: 'info', message });
const rejected = (message: string): LeadMoveOutcome => ({ step: 'lead.rejected', status: 'failed', message: `rejected: ${message}` });

/** How often a move is re-judged when the lead changes list under it. */
const MAX_CONFLICTS = 5;

/**
 * Applies lead.update.list as the spec says, "moves a lead to a specified list within the same
 * campaign": the lead's campaign is read from the leads store (the event's is not trusted), the
 * target list must belong to it, and a command already applied (or a lead already on the list)
 * changes nothing. A command already applied is answered `lead.moved` again (one fact, one log
 * id), a lead already on the list `lead.noop`. The move itself is conditional on the list the lead was seen on, so a
 * concurrent change is noticed and the command judged again.
 * @throws LeadsStoreUnavailableError when the store cannot answer (the caller retries).
 */
export async function applyLeadMove(store: LeadsStore, c: LeadCommand): Promise<LeadMoveOutcome> {
  for (let i = 0; i < MAX_CONFLICTS; i++) {
    const lead = await store.getLead(c.tenantId, c.leadId);
    if (!lead) return rejected(`lead ${c.leadId} not found`);
    // This command moved the lead before (a replay after a crash or a repeated delivery): the
    // same fact, recorded again under the same log id, so the Event Logs hold it once.
    if (lead.appliedCommandIds?.includes(c.commandId))
      return moved(`moved lead ${c.leadId} to list ${c.toListId} (campaign ${lead.campaignId}); recorded again for a repeated command`);
    const list = await store.getList(c.tenantId, c.toListId);
    if (!list) return rejected(`list ${c.toListId} not found`);
    if (list.campaignId !== lead.campaignId) {
      return rejected(`list ${c.toListId} belongs to campaign ${list.campaignId}, not ${lead.campaignId} (the campaign of lead ${c.leadId})`);
    }
    if (lead.listId === c.toListId) return noop(`lead ${c.leadId} is already on list ${c.toListId}`);
    const result = await store.moveLead(c.tenantId, c.leadId, lead.listId, c.toListId, c.commandId);
    if (result === 'moved') return moved(`moved lead ${c.leadId} from list ${lead.listId} to list ${c.toListId} (campaign ${lead.campaignId})`);
    if (result === 'not_found') return rejected(`lead ${c.leadId} not found`);
  }
  throw new LeadsStoreUnavailableError(`lead ${c.leadId} changed list ${MAX_CONFLICTS} times while being moved`);
}
