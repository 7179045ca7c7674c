import { Agent, request } from 'undici';
import { Lead, LeadList, LeadsStore, LeadsStoreUnavailableError, MoveResult } from './leads.store';

/** Options of the {@link HttpLeadsStore}. */
export interface HttpLeadsStoreOptions {
  /** Base URL, e.g. `https://leads.internal/v1`. */
  url: string;
  token?: string;
  timeoutMs: number;
  /** Extra tries of a request that failed with a network error, a timeout or a 5xx. */
  retries: number;
}

/**
 * The platform's leads API (contract in the README, "Leads API contract"):
 *
 * - `GET  {url}/tenants/{tenantId}/leads/{leadId}`  → 200 `{leadId, campaignId, listId}` | 404
 * - `GET  {url}/tenants/{tenantId}/lists/{listId}`  → 200 `{listId, campaignId, name}` | 404
 * - `PUT  {url}/tenants/{tenantId}/leads/{leadId}/list` with `{listId, expectedListId}` and
 *   `Idempotency-Key: <commandId>` → 200 (moved, or already done under that key) | 404 | 409
 *   (the lead is no longer on `expectedListId`)
 *
 * Requests carry `Authorization: Bearer <token>` when one is configured. Network errors,
 * timeouts, 429 and 5xx are retried with backoff, then reported as unavailable.
 */
export class HttpLeadsStore implements LeadsStore {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(private readonly options: HttpLeadsStoreOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.agent = new Agent({ connections: 8, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connect: { timeout: options.timeoutMs } });
  }

  async getLead(tenantId: string, leadId: string): Promise<Lead | null> {
    const r = await this.call('GET', `/tenants/${enc(tenantId)}/leads/${enc(leadId)}`);
    if (r.status === 404) return null;
    const body = r.body as Partial<Lead>;
    if (!body || body.campaignId == null || body.listId == null)
      throw new LeadsStoreUnavailableError(`the leads API answered a lead without campaignId or listId: ${JSON.stringify(body)}`);
    return { leadId: String(body.leadId ?? leadId), campaignId: String(body.campaignId), listId: String(body.listId) };
  }

  async getList(tenantId: string, listId: string): Promise<LeadList | null> {
    const r = await this.call('GET', `/tenants/${enc(tenantId)}/lists/${enc(listId)}`);
    if (r.status === 404) return null;
    const body = r.body as Partial<LeadList>;
    if (!body || body.campaignId == null) throw new LeadsStoreUnavailableError(`the leads API answered a list without campaignId: ${JSON.stringify(body)}`);
    return { listId: String(body.listId ?? listId), campaignId: String(body.campaignId), name: body.name };
  }

  async moveLead(tenantId: string, leadId: string, fromListId: string, toListId: string, commandId: string): Promise<MoveResult> {
    const r = await this.call('PUT', `/tenants/${enc(tenantId)}/leads/${enc(leadId)}/list`, { listId: toListId, expectedListId: fromListId }, commandId);
    if (r.status === 404) return 'not_found';
    if (r.status === 409) return 'conflict';
    return 'moved';
  }

  private async call(method: 'GET' | 'PUT', path: string, body?: unknown, idempotencyKey?: string): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    let lastError = '';
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
      try {
        const res = await request(`${this.base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher: this.agent,
        });
        const text = await res.body.text();
        if (res.statusCode === 429 || res.statusCode >= 500) {
          lastError = `HTTP ${res.statusCode}`;
          continue;
        }
        if (res.statusCode === 404 || res.statusCode === 409) return { status: res.statusCode, body: null };
        if (res.statusCode < 200 || res.statusCode >= 300) {
          // 400/401/403: a configuration problem, not a fact about the lead; retried until fixed.
          throw new LeadsStoreUnavailableError(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
        }
        return { status: res.statusCode, body: text ? JSON.parse(text) : null };
      } catch (err) {
        if (err instanceof LeadsStoreUnavailableError) throw err;
        lastError = (err as Error).message;
      }
    }
    throw new LeadsStoreUnavailableError(`${method} ${path} failed after ${this.options.retries + 1} tries: ${lastError}`);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

const enc = encodeURIComponent;
