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

/** Nest token of the configured {@link LeadsStore}. */
export const LEADS_STORE = Symbol('LEADS_STORE');

/** The store did not answer; the command waits and is tried again, never dropped. */
export class LeadsStoreUnavailableError extends TransientError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause, dependency: 'leadsStore', code: 'leads_store.unavailable' });
  }
}
