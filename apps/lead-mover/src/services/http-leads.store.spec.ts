import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LeadCommand } from '@triggers/contracts';
import { HttpLeadsStore } from './http-leads.store';
import { applyLeadMove } from './lead-move.service';
import { LeadsStoreUnavailableError } from './leads.store';

/**
 * The leads API contract (README, "Leads API contract"), played by a local server that keeps
 * leads and lists in memory and records every request it gets.
 */
class FakeLeadsApi {
  readonly leads = new Map<string, { leadId: string; campaignId: string; listId: string }>();
  readonly lists = new Map<string, { listId: string; campaignId: string; name: string }>();
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  readonly appliedKeys = new Set<string>();
  /** Answers to give before behaving, e.g. [503, 503]. */
  failures: number[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const reply = (status: number, json?: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(json === undefined ? '' : JSON.stringify(json));
        };
        const failure = this.failures.shift();
        if (failure) return reply(failure, { error: 'try later' });
        if (req.headers.authorization !== 'Bearer s3cret') return reply(401, { error: 'unauthorized' });
        const m = /^\/v1\/tenants\/([^/]+)\/(leads|lists)\/([^/]+)(\/list)?$/.exec(req.url!);
        if (!m) return reply(404);
        const [, tenant, kind, id, move] = m;
        const key = `${decodeURIComponent(tenant)}/${decodeURIComponent(id)}`;
        if (req.method === 'GET' && kind === 'leads' && !move) return this.leads.has(key) ? reply(200, this.leads.get(key)) : reply(404);
        if (req.method === 'GET' && kind === 'lists') return this.lists.has(key) ? reply(200, this.lists.get(key)) : reply(404);
        if (req.method === 'PUT' && kind === 'leads' && move) {
          const lead = this.leads.get(key);
          if (!lead) return reply(404);
          const { listId, expectedListId } = JSON.parse(body) as { listId: string; expectedListId: string };
          const idempotencyKey = String(req.headers['idempotency-key']);
          if (this.appliedKeys.has(idempotencyKey)) return reply(200, lead);
          if (lead.listId !== expectedListId) return reply(409, { error: 'moved meanwhile' });
          lead.listId = listId;
          this.appliedKeys.add(idempotencyKey);
          return reply(200, lead);
        }
        reply(405);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('HttpLeadsStore (the leads API contract)', () => {
  const api = new FakeLeadsApi();
  let store: HttpLeadsStore;

  beforeAll(async () => {
    await api.start();
    store = new HttpLeadsStore({ url: api.url, token: 's3cret', timeoutMs: 1000, retries: 2 });
  });

  afterAll(async () => {
    await store.close();
    await api.stop();
  });

  beforeEach(() => {
    api.leads.clear();
    api.lists.clear();
    api.requests.length = 0;
    api.appliedKeys.clear();
    api.failures = [];
    api.leads.set('acme/131406', { leadId: '131406', campaignId: '1695', listId: '100' });
    api.lists.set('acme/445', { listId: '445', campaignId: '1695', name: 'Callback' });
    api.lists.set('acme/900', { listId: '900', campaignId: '7', name: 'Elsewhere' });
  });

  const command = (toListId: string, leadId = '131406'): LeadCommand => ({
    commandId: 'cmd_1',
    tenantId: 'acme',
    triggerId: 't1',
    eventId: 'e1',
    eventType: 'agent.wrap',
    leadId,
    campaignId: '1695',
    toListId,
  });

  it('reads the lead and the list, then moves it with its expected list and the command id as Idempotency-Key', async () => {
    expect(await applyLeadMove(store, command('445'))).toEqual({
      step: 'lead.moved',
      status: 'ok',
      message: 'moved lead 131406 from list 100 to list 445 (campaign 1695)',
    });
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/tenants/acme/leads/131406',
      'GET /v1/tenants/acme/lists/445',
      'PUT /v1/tenants/acme/leads/131406/list',
    ]);
    const put = api.requests[2];
    expect(JSON.parse(put.body)).toEqual({ listId: '445', expectedListId: '100' });
    expect(put.headers).toMatchObject({ 'idempotency-key': 'cmd_1', authorization: 'Bearer s3cret', 'content-type': 'application/json' });
    expect(api.leads.get('acme/131406')!.listId).toBe('445');
  });

  it('maps 404s to "not found" and a wrong campaign to a rejection, without moving', async () => {
    expect((await applyLeadMove(store, command('445', '1'))).message).toBe('rejected: lead 1 not found');
    expect((await applyLeadMove(store, command('404'))).message).toBe('rejected: list 404 not found');
    expect((await applyLeadMove(store, command('900'))).message).toBe('rejected: list 900 belongs to campaign 7, not 1695 (the campaign of lead 131406)');
    expect(api.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('judges again after a 409 (the lead moved meanwhile)', async () => {
    const realGet = store.getLead.bind(store);
    let first = true;
    // The first read sees a stale list; the API refuses the move with 409; the second read is current.
    jest.spyOn(store, 'getLead').mockImplementation(async (t, l) => {
      const lead = await realGet(t, l);
      if (first && lead) {
        first = false;
        return { ...lead, listId: '999' };
      }
      return lead;
    });
    expect((await applyLeadMove(store, command('445'))).step).toBe('lead.moved');
    expect(api.requests.filter((r) => r.method === 'PUT').map((r) => JSON.parse(r.body).expectedListId)).toEqual(['999', '100']);
    jest.restoreAllMocks();
  });

  it('retries 5xx and 429, then reports the store unavailable (never a rejection)', async () => {
    api.failures = [503, 429];
    expect((await applyLeadMove(store, command('445'))).step).toBe('lead.moved');
    api.failures = [500, 500, 500];
    await expect(store.getLead('acme', '131406')).rejects.toBeInstanceOf(LeadsStoreUnavailableError);
    const down = new HttpLeadsStore({ url: 'http://127.0.0.1:9/v1', timeoutMs: 200, retries: 1 });
    await expect(applyLeadMove(down, command('445'))).rejects.toThrow(/failed after 2 tries/);
    await down.close();
  });

  it('treats a refused token as unavailable, not as a fact about the lead', async () => {
    const wrong = new HttpLeadsStore({ url: api.url, token: 'nope', timeoutMs: 1000, retries: 0 });
    await expect(wrong.getLead('acme', '131406')).rejects.toThrow('HTTP 401');
    await wrong.close();
  });
});
