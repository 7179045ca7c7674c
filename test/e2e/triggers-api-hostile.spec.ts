import fc from 'fast-check';
import { AppProcess, ApiClient, INTERNAL_WEBHOOK_URLS, createTenantKey, startApi, useTestContext } from '@triggers/testing';

const params = (url: string, reference = 'campaignId', extra: object = {}) =>
  JSON.stringify({ conditions: [{ reference, operator: '=', value: '1' }], actions: [{ action: 'webhook', parameters: { url } }], ...extra });
const trigger = (url: string, name = 'hostile') => ({ name, eventType: 'agent.wrap', enabled: true, parameters: params(url) });

/** Tried as a hostile tenant would: every answer is a clear 4xx, never a 500, never slow. */
describe('triggers-api against a hostile tenant', () => {
  const ctx = useTestContext({ topics: true });
  let api: { app: AppProcess; client: ApiClient };
  let client: ApiClient;
  let key: string;

  beforeAll(async () => {
    api = await startApi(ctx(), { API_MAX_BODY_BYTES: String(200 * 1024), API_AUTH_FAILURES_PER_MINUTE: '50' });
    key = await createTenantKey(ctx(), 'hostile');
    client = api.client.withKey(key);
  });
  afterAll(() => api?.app.stop());

  const raw = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${api.client.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });

  it.each([...INTERNAL_WEBHOOK_URLS, ['http://[::10.0.0.1]/', '::/96'], ['http://[2002:a9fe:a9fe::1]/', '169.254.0.0/16']])(
    'refuses the internal webhook URL %s at save, naming %s',
    async (url, cidr) => {
      const res = await client.post('/v1/triggers', trigger(url));
      expect(res.status).toBe(400);
      expect(res.body.error).toContain(cidr);
    },
  );

  it('refuses credentials in a URL without echoing the password', async () => {
    const res = await client.post('/v1/triggers', trigger('https://user:s3cr3t@hooks.example/x'));
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('put secrets in headers, not URLs');
    expect(JSON.stringify(res.body)).not.toContain('s3cr3t');
  });

  it('bounds references, names and lists with clear 400s', async () => {
    const long = await client.post('/v1/triggers', { name: 'long', eventType: 'agent.wrap', parameters: params('https://hooks.example/', 'x'.repeat(95_000)) });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.body.details)).toContain('reference is longer than 200 characters');
    const deep = await client.post('/v1/triggers', {
      name: 'deep',
      eventType: 'agent.wrap',
      parameters: params('https://hooks.example/', Array(20).fill('a').join('.')),
    });
    expect(deep.status).toBe(400);
    const many = await client.post('/v1/triggers', {
      name: 'many',
      eventType: 'agent.wrap',
      parameters: JSON.stringify({
        conditions: [{ reference: 'campaignId', operator: 'in', value: Array.from({ length: 500 }, (_, i) => i).join(',') }],
        actions: [{ action: 'webhook', parameters: { url: 'https://hooks.example/' } }],
      }),
    });
    expect(many.status).toBe(400);
    const surrogate = await client.post('/v1/triggers', trigger('https://hooks.example/', 'half \ud800 a character'));
    expect(surrogate.status).toBe(400);
    const control = await client.post('/v1/triggers', trigger('https://hooks.example/', 'two\nlines'));
    expect(control.status).toBe(400);
    // A name is stored exactly as returned: NFC, whole characters.
    const decomposed = 'Cafe\u0301';
    const ok = await client.post('/v1/triggers', trigger('https://hooks.example/', decomposed));
    expect(ok.status).toBe(201);
    expect(ok.body.name).toBe('Café'.normalize('NFC'));
    expect((await client.get(`/v1/triggers/${ok.body.id}`)).body.name).toBe(ok.body.name);
  });

  it('answers 413 for an oversized body and 400 for deeply nested JSON, never 500', async () => {
    for (const size of [1, 20].map((mb) => mb * 1024 * 1024)) {
      const res = await raw('/v1/triggers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"name":"${'x'.repeat(size)}"}` });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toContain('API_MAX_BODY_BYTES');
    }
    const nested = await raw('/v1/triggers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
    });
    expect(nested.status).toBe(400);
    const nestedObject = await raw('/v1/triggers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
    });
    expect(nestedObject.status).toBe(400);
  });

  it('takes JSON only: a form-encoded body is a 415', async () => {
    const res = await raw('/v1/triggers', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=x&eventType=agent.wrap&parameters=%7B%7D',
    });
    expect(res.status).toBe(415);
  });

  it('reads If-Match strictly and sends ETag', async () => {
    const created = await client.post('/v1/triggers', trigger('https://hooks.example/etag'));
    expect(created.headers.get('etag')).toBe('"1"');
    for (const bad of ['', '0x1', '1e0', 'true', '[1]', '*', '"1', '0']) {
      const res = await client.patch(`/v1/triggers/${created.body.id}`, { name: 'x' }, { 'If-Match': bad });
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
    }
    const ok = await client.patch(`/v1/triggers/${created.body.id}`, { name: 'by etag' }, { 'If-Match': created.headers.get('etag')! });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"2"');
    const stale = await client.patch(`/v1/triggers/${created.body.id}`, { name: 'stale' }, { 'If-Match': '1' });
    expect(stale.status).toBe(409);
  });

  it('says nothing of its server, and /docs is neither framed nor scripted by others', async () => {
    const res = await raw('/v1/triggers');
    expect(res.headers.get('x-powered-by')).toBeNull();
    const docs = await fetch(`${api.client.baseUrl}/docs`);
    expect(docs.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(docs.headers.get('x-frame-options')).toBe('DENY');
  });

  it('rate-limits by the key, however the header is spelled, and says when to retry', async () => {
    const limited = await startApi(ctx(), { API_RATE_LIMIT_PER_MINUTE: '4' });
    try {
      const spellings = [`Bearer ${key}`, `bearer  ${key}`, `BEARER ${key}`, `Bearer ${key} `, `bearer\t${key}`];
      const statuses = [];
      for (const authorization of spellings) statuses.push((await fetch(`${limited.client.baseUrl}/v1/triggers`, { headers: { authorization } })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
      const res = await fetch(`${limited.client.baseUrl}/v1/triggers`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.app.stop();
    }
  });

  it('limits failed authentications per address: a flood of made-up keys gets 429', async () => {
    const guarded = await startApi(ctx(), { API_AUTH_FAILURES_PER_MINUTE: '20' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 700; i++) {
        const made = `trg_${i.toString(16).padStart(12, '0')}_${'A'.repeat(43)}`;
        statuses.push((await fetch(`${guarded.client.baseUrl}/v1/triggers`, { headers: { authorization: `Bearer ${made}` } })).status);
      }
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    } finally {
      await guarded.app.stop();
    }
  }, 120_000);

  it('answers no request body or header with a 500 (property-based)', async () => {
    const created = await client.post('/v1/triggers', trigger('https://hooks.example/prop'));
    const json = fc.jsonValue({ maxDepth: 6 });
    const body = fc.oneof(
      json.map((v) => JSON.stringify(v)),
      fc
        .record({
          name: fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), json),
          eventType: fc.oneof(fc.constantFrom('agent.wrap', 'mpiq.attempt', 'nope'), json),
          enabled: json,
          parameters: fc.oneof(
            fc.string(),
            json.map((v) => JSON.stringify(v)),
            json,
          ),
        })
        .map((v) => JSON.stringify(v)),
      fc.string(),
    );
    const ifMatch = fc.option(fc.oneof(fc.string(), fc.nat().map(String), fc.constantFrom('"1"', 'W/"1"', '*')), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('POST /v1/triggers', 'PATCH', 'PUT'), body, ifMatch, async (route, text, match) => {
        const [method, path] = route === 'POST /v1/triggers' ? ['POST', '/v1/triggers'] : [route, `/v1/triggers/${created.body.id}`];
        const res = await raw(path, {
          method,
          headers: { 'content-type': 'application/json', ...(match !== undefined ? { 'if-match': match } : {}) },
          body: text,
        });
        await res.arrayBuffer();
        return res.status < 500;
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
