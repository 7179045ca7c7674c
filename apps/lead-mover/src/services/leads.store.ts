import { TransientError } from '@triggers/errors';

/** A lead as the lead-mover needs it. */
export interface Lead {
  leadId: string;
  campaignId: string;
  listId: string;
  /** Lead commands already applied to it, when the store keeps them (the Mongo adapter does). */
  appliedCommandIds?: string[];
}

/** A list and the campaign it belongs to. */
export interface LeadList {
  listId: string;
  campaignId: string;
  name?: string;
}

/** Outcome of a conditional move. */
export type MoveResult = 'moved' | 'conflict' | 'not_found';

/**
 * The leads store port. Every method throws {@link LeadsStoreUnavailableError} when the store
 * cannot answer (a retriable failure); "not found" is an answer, not an error.
 */
export interface LeadsStore {
  getLead(tenantId: string, leadId: string): Promise<Lead | null>;
  getList(tenantId: string, listId: string): Promise<LeadList | null>;
  /**
   * Moves the lead to `toListId` if it is still on `fromListId` (`conflict` otherwise: someone
   * moved it meanwhile). `commandId` makes the move idempotent where the store supports it.
   */
  moveLead(tenantId: string, leadId: string, fromListId: string, toListId: string, commandId: string): Promise<MoveResult>;
  close(): Promise<void>;
}

/** A lead's planned move: every command of one partition batch that moves it, in order, as one conditional write. */
export interface PlannedMove {
  tenantId: string;
  leadId: string;
  /** The list the lead was read on: the write applies only if it is still there. */
  fromListId: string;
  /** Where the last of its commands leaves it. */
  toListId: string;
  /** The commands applied by this write, in order; none may have been applied before. */
  commandIds: string[];
}

/** A lead or list by tenant. */
export interface LeadRef {
  tenantId: string;
  leadId: string;
}
export interface ListRef {
  tenantId: string;
  listId: string;
}

/**
 * A store that reads and moves many leads per round trip (the Mongo adapter). Maps are keyed by
 * `leadKey` / `listKey`; a missing key means not found.
 */
export interface BulkLeadsStore extends LeadsStore {
  getLeads(refs: LeadRef[]): Promise<Map<string, Lead>>;
  getLists(refs: ListRef[]): Promise<Map<string, LeadList>>;
  /**
   * Applies each move whose lead is still on its `fromListId` with none of its commands applied;
   * answers how many were. `between` runs between the round trips of a long run (a heartbeat).
   */
  moveLeads(moves: PlannedMove[], between?: () => Promise<void>): Promise<number>;
}

export function isBulkLeadsStore(store: LeadsStore): store is BulkLeadsStore {
  return typeof (store as Partial<BulkLeadsStore>).moveLeads === 'function';
}

/** Nest token of the configured {@link LeadsStore}. */
export const LEADS_STORE = Symbol('LEADS_STORE');

/** The store did not answer; the command waits and is tried again, never dropped. */
export class LeadsStoreUnavailableError extends TransientError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause, dependency: 'leadsStore', code: 'leads_store.unavailable' });
  }
}
