import { createServer, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { WebhookTimingConfig } from '@triggers/config';
import { AddressGuard } from './address-guard';
import { WebhookClient } from './webhook-client';

const timing: WebhookTimingConfig = {
  retryDelayMs: 1000,
  retryWindowMinuteMs: 60_000,
  retryWindowMs: 10_000,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 300,
  bodyTimeoutMs: 300,
  maxResponseBytes: 10 * 1024,
  maxQueueWaitMs: 60_000,
};

describe('WebhookClient', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  const arrivals: number[] = [];
  const client = new WebhookClient(timing, new AddressGuard(['127.0.0.0/8']), 4);

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/big') return res.end('y'.repeat(50 * 1024));
        if (req.url === '/hang') return;
        if (req.url === '/slow') return void setTimeout(() => res.writeHead(201).end('late'), 50);
        if (req.url?.startsWith('/seq/')) arrivals.push(Number(req.url.slice(5)));
        if (req.url === '/crm') return void setTimeout(() => res.writeHead(200).end('ok'), 1500);
        if (req.url === '/drip') {
          res.writeHead(200);
          res.write('a');
          return;
        }
        if (req.url === '/redirect') {
          res.writeHead(302, { location: 'http://169.254.169.254/' });
          return res.end();
        }
        res.writeHead(req.url === '/fail' ? 500 : 201, { 'x-reply': 'yes' });
        res.end('fine');
      });
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await client.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const post = (path: string) => client.post(new URL(base + path), { 'content-type': 'application/json' }, '{}');

  it('returns status, headers and body of a 2xx', async () => {
    expect(await post('/ok')).toMatchObject({
      responseStatus: 201,
      responseBody: 'fine',
      responseTruncated: false,
      errorClass: null,
      responseHeaders: expect.objectContaining({ 'x-reply': 'yes' }),
    });
  });

  it('reads 10 kB of a larger body and stops', async () => {
    const r = await post('/big');
    expect(r.responseBody).toHaveLength(10 * 1024);
    expect(r.responseTruncated).toBe(true);
  });

  it('classifies failures', async () => {
    expect(await post('/fail')).toMatchObject({ responseStatus: 500, errorClass: 'http.status', error: 'HTTP 500' });
    expect(await post('/hang')).toMatchObject({ responseStatus: null, errorClass: 'timeout.headers' });
    expect(await post('/drip')).toMatchObject({ responseStatus: null, errorClass: 'timeout.body' });
    // A redirect is not followed: it is a non-2xx like any other.
    expect(await post('/redirect')).toMatchObject({ responseStatus: 302, errorClass: 'http.status' });
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    expect(await client.post(new URL(`http://127.0.0.1:${closed}/`), {}, '')).toMatchObject({ errorClass: 'connection.refused' });
    expect(await client.post(new URL('http://10.0.0.1/'), {}, '')).toMatchObject({ errorClass: 'blocked', error: expect.stringContaining('private') });
  });

  it('serves 3,000 waiting for one endpoint in the order they came', async () => {
    const results = await Promise.all(Array.from({ length: 3000 }, (_, i) => post(`/seq/${i}`)));
    expect(results.filter((r) => r.responseStatus === 201)).toHaveLength(3000);
    // Four connections: each request arrives within four places of its turn.
    arrivals.forEach((i, place) => expect(Math.abs(i - place)).toBeLessThanOrEqual(4));
    expect(client.waiting).toBe(0);
  });

  it('caps concurrent requests per origin', async () => {
    const results = Promise.all(Array.from({ length: 6 }, () => post('/hang')));
    await new Promise((r) => setTimeout(r, 100));
    expect(client.load()[base]).toEqual({ running: 4, waiting: 2 });
    expect(client.waiting).toBe(2);
    await results;
    expect(client.waiting).toBe(0);
  });

  describe('with WEBHOOK_MAX_QUEUE_WAIT_MS 500', () => {
    // Each hung request takes its 300 ms headers timeout; 4 connections per origin.
    const strict = new WebhookClient({ ...timing, maxQueueWaitMs: 500 }, new AddressGuard(['127.0.0.0/8']), 4);
    const send = (path: string) => strict.post(new URL(base + path), { 'content-type': 'application/json' }, '{}');
    afterAll(() => strict.close());

    it('lets no delivery wait past it behind an endpoint that is slow but answers', async () => {
      // 50 ms per request on 4 connections: 80 a second, so 60 at once cannot all start within 500 ms.
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 60 }, () => send('/slow').then((r) => ({ ...r, at: Date.now() - started }))));
      const served = results.filter((r) => r.responseStatus === 201);
      const refused = results.filter((r) => r.errorClass === 'origin.busy');
      expect(served.length + refused.length).toBe(60);
      expect(served.length).toBeGreaterThanOrEqual(4);
      expect(refused.length).toBeGreaterThanOrEqual(10);
      for (const r of refused) {
        expect(r.error).toContain('WEBHOOK_MAX_QUEUE_WAIT_MS');
        expect(r.at).toBeGreaterThanOrEqual(500);
      }
    });

    it('serves the long queue of a fast endpoint: 200 at once on 4 connections, none refused', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => send('/ok')));
      expect(results.filter((r) => r.responseStatus === 201)).toHaveLength(200);
    });
  });

  describe('a hung endpoint against a slow one (4 connections, stall time 500 ms)', () => {
    const hungTiming = { ...timing, headersTimeoutMs: 1500, maxQueueWaitMs: 1000 };
    const limited = new WebhookClient(hungTiming, new AddressGuard(['127.0.0.0/8']), 4);
    const send = (path: string) => limited.post(new URL(base + path), { 'content-type': 'application/json' }, '{}');
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    afterAll(() => limited.close());

    it('knows a hung endpoint by its timeouts, then refuses what waits for it, and what comes, at once while its connections stay stuck', async () => {
      const firstRound = await Promise.all(Array.from({ length: 4 }, () => send('/hang')));
      expect(firstRound.map((r) => r.errorClass)).toEqual(Array(4).fill('timeout.headers'));
      // It did not answer: 4 more take its connections, and 3 wait for them.
      const started = Date.now();
      const running = Array.from({ length: 4 }, () => send('/hang'));
      const waiting = Array.from({ length: 3 }, () => send('/hang').then((r) => ({ ...r, at: Date.now() - started })));
      await sleep(50);
      expect(limited.load()[base]).toEqual({ running: 4, waiting: 3 });
      // Nothing started or finished for 500 ms: the waiting ones are refused, without waiting out the 1,000 ms limit.
      for (const r of await Promise.all(waiting)) {
        expect(r).toMatchObject({ responseStatus: null, errorClass: 'origin.busy', error: expect.stringContaining('did not answer its last request') });
        expect(r.at).toBeGreaterThanOrEqual(500);
        expect(r.at).toBeLessThan(1000);
      }
      const late = await Promise.race([send('/hang'), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not refused at once')), 100))]);
      expect(late).toMatchObject({ errorClass: 'origin.busy' });
      expect((await Promise.all(running)).map((r) => r.errorClass)).toEqual(Array(4).fill('timeout.headers'));
    });

    it('serves a slow endpoint in turn, never refused: 12 deliveries answered after 1.5 s each, 3 rounds on 4 connections', async () => {
      const crm = new WebhookClient({ ...timing, headersTimeoutMs: 5000, maxQueueWaitMs: 10_000 }, new AddressGuard(['127.0.0.0/8']), 4);
      try {
        const started = Date.now();
        const results = await Promise.all(Array.from({ length: 12 }, () => crm.post(new URL(`${base}/crm`), {}, '{}')));
        // All 4 connections busy for 1.5 s with nothing started or finished: before, the 8 waiting were refused after 1 s.
        expect(results.map((r) => r.responseStatus)).toEqual(Array(12).fill(200));
        expect(Date.now() - started).toBeLessThan(1.3 * 3 * 1500);
      } finally {
        await crm.close();
      }
    });
  });
});
