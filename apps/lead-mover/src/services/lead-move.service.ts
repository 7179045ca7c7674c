import { type LeadCommand, leadKey, listKey } from '@triggers/contracts';
import { BulkLeadsStore, Lead, LeadList, LeadsStore, LeadsStoreUnavailableError, PlannedMove } from './leads.store';

/** What became of a lead command, as the log topic records it. */
export interface LeadMoveOutcome {
  step: 'lead.moved' | 'lead.noop' | 'lead.rejected';
  status: 'ok' | 'info' | 'failed';
  message: string;
}

const moved = (message: string): LeadMoveOutcome => ({ step: 'lead.moved', status: 'ok', message });
const noop = (message: string): LeadMoveOutcome => ({ step: 'lead.noop', status: 'info', message });
const rejected = (message: string): LeadMoveOutcome => ({ step: 'lead.rejected', status: 'failed', message: `rejected: ${message}` });
const movedNow = (c: LeadCommand, lead: Lead) => moved(`moved lead ${c.leadId} from list ${lead.listId} to list ${c.toListId} (campaign ${lead.campaignId})`);

/** How often a move is re-judged when the lead changes list under it. */
const MAX_CONFLICTS = 5;

/**
 * What the lead alone decides: not found, or this command applied before (a replay after a
 * crash or a repeated delivery), which is the same fact recorded again under the same log id,
 * so the Event Logs hold it once. Undefined: the target list decides.
 */
function judgeLead(c: LeadCommand, lead: Lead | null | undefined): LeadMoveOutcome | undefined {
  if (!lead) return rejected(`lead ${c.leadId} not found`);
  if (lead.appliedCommandIds?.includes(c.commandId))
    return moved(`moved lead ${c.leadId} to list ${c.toListId} (campaign ${lead.campaignId}); recorded again for a repeated command`);
  return undefined;
}

/** What the target list decides: it must exist in the lead's own campaign. Undefined: the lead moves. */
function judgeList(c: LeadCommand, lead: Lead, list: LeadList | null | undefined): LeadMoveOutcome | undefined {
  if (!list) return rejected(`list ${c.toListId} not found`);
  if (list.campaignId !== lead.campaignId) {
    return rejected(`list ${c.toListId} belongs to campaign ${list.campaignId}, not ${lead.campaignId} (the campaign of lead ${c.leadId})`);
  }
  if (lead.listId === c.toListId) return noop(`lead ${c.leadId} is already on list ${c.toListId}`);
  return undefined;
}

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
    const byLead = judgeLead(c, lead);
    if (byLead) return byLead;
    const byList = judgeList(c, lead!, await store.getList(c.tenantId, c.toListId));
    if (byList) return byList;
    const result = await store.moveLead(c.tenantId, c.leadId, lead!.listId, c.toListId, c.commandId);
    if (result === 'moved') return movedNow(c, lead!);
    if (result === 'not_found') return rejected(`lead ${c.leadId} not found`);
  }
  throw new LeadsStoreUnavailableError(`lead ${c.leadId} changed list ${MAX_CONFLICTS} times while being moved`);
}

/** The outcomes of a run of commands judged together, and the one write per lead they need. */
export interface LeadMovePlan {
  outcomes: LeadMoveOutcome[];
  moves: PlannedMove[];
  /** For each move, the indexes of the commands whose outcome hangs on it (every command of its lead). */
  commandsOf: Map<PlannedMove, number[]>;
}

/**
 * Judges commands in order against the leads and lists as read, exactly as {@link applyLeadMove}
 * would one after the other: each lead's state is carried from one of its commands to the next,
 * and all of a lead's moves become one conditional write from the list it was read on.
 */
export function planLeadMoves(commands: LeadCommand[], leads: Map<string, Lead>, lists: Map<string, LeadList>): LeadMovePlan {
  const state = new Map<string, Lead>();
  const moveOf = new Map<string, PlannedMove>();
  const indexesOf = new Map<string, number[]>();
  const outcomes = commands.map((c, i) => {
    const key = leadKey(c.tenantId, c.leadId);
    let lead = state.get(key);
    if (!lead) {
      const read = leads.get(key);
      if (read) state.set(key, (lead = { ...read, appliedCommandIds: [...(read.appliedCommandIds ?? [])] }));
    }
    (indexesOf.get(key) ?? indexesOf.set(key, []).get(key)!).push(i);
    const verdict = judgeLead(c, lead) ?? judgeList(c, lead!, lists.get(listKey(c.tenantId, c.toListId)));
    if (verdict) return verdict;
    const outcome = movedNow(c, lead!);
    let move = moveOf.get(key);
    if (!move) moveOf.set(key, (move = { tenantId: c.tenantId, leadId: c.leadId, fromListId: lead!.listId, toListId: c.toListId, commandIds: [] }));
    move.toListId = c.toListId;
    move.commandIds.push(c.commandId);
    lead!.listId = c.toListId;
    lead!.appliedCommandIds!.push(c.commandId);
    return outcome;
  });
  const moves = [...moveOf.values()];
  return { outcomes, moves, commandsOf: new Map(moves.map((m) => [m, indexesOf.get(leadKey(m.tenantId, m.leadId))!])) };
}

/**
 * Applies a run of commands (one partition batch, so each lead's commands come in order) with
 * one read of their leads, one of their lists and one conditional write per moved lead. A lead
 * whose write did not apply (it changed list meanwhile) has all its commands of the run judged
 * again one by one, so the outcomes are those of {@link applyLeadMove} applied in order.
 * `heartbeat` runs between round trips, so a long run on a slow store keeps its consumer in the group.
 * @throws LeadsStoreUnavailableError when the store cannot answer: nothing is recorded, and the
 *   run tried again finds what was written (each command's id is on its lead) and records it as
 *   the same facts.
 */
export async function applyLeadMoves(store: BulkLeadsStore, commands: LeadCommand[], heartbeat?: () => Promise<void>): Promise<LeadMoveOutcome[]> {
  const [leads, lists] = await Promise.all([store.getLeads(commands), store.getLists(commands.map((c) => ({ tenantId: c.tenantId, listId: c.toListId })))]);
  const plan = planLeadMoves(commands, leads, lists);
  if (plan.moves.length === 0) return plan.outcomes;
  await heartbeat?.();
  const applied = await store.moveLeads(plan.moves, heartbeat);
  if (applied === plan.moves.length) return plan.outcomes;
  const after = await store.getLeads(plan.moves);
  for (const move of plan.moves) {
    const lead = after.get(leadKey(move.tenantId, move.leadId));
    // The write is atomic: its last command on the lead means all of them are (the first of a
    // long run may already have left the kept ids).
    if (lead?.appliedCommandIds?.includes(move.commandIds[move.commandIds.length - 1])) continue;
    for (const i of plan.commandsOf.get(move)!) plan.outcomes[i] = await applyLeadMove(store, commands[i]);
    await heartbeat?.();
  }
  return plan.outcomes;
}
