import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { waitFor } from '@triggers/local-infra';

/** One webhook request as a receiver saw it. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** When its body had arrived (epoch ms). */
  at: number;
}

/** How to answer a request: a status, body and headers, after `delayMs` (a slow endpoint); or never (`hang`). */
export type ReceiverReply = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | 'hang';

/** A local HTTP server standing in for a tenant's webhook endpoint. */
export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** Requests being held open without an answer. */
  hanging(): number;
  /** Distinct `webhook-id`s received. */
  ids(): Set<string>;
  /** Resolves once `n` requests (optionally only those `where` accepts) have arrived. */
  waitFor(n: number, opts?: { timeoutMs?: number; where?: (r: ReceivedWebhook) => boolean }): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/**
 * Starts a keep-alive receiver on loopback. `reply` decides each answer from the request and
 * how many came before it (default: 200 `ok`).
 */
export async function startWebhookReceiver(
  reply: (req: ReceivedWebhook, index: number) => ReceiverReply = () => ({ status: 200, body: 'ok' }),
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const sockets = new Set<Socket>();
  let hanging = 0;
  const server: Server = createServer({ keepAlive: true }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const webhook = { path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const answer = reply(webhook, received.length);
      received.push(webhook);
      if (answer === 'hang') {
        hanging++;
        res.on('close', () => hanging--);
        return;
      }
      const send = () => {
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    hanging: () => hanging,
    ids: () => new Set(received.map((r) => r.headers['webhook-id'])),
    async waitFor(n, opts = {}) {
      const where = opts.where ?? (() => true);
      await waitFor(() => received.filter(where).length >= n, {
        timeoutMs: opts.timeoutMs ?? 30_000,
        intervalMs: 20,
        description: `${n} webhook requests at ${port}`,
      });
      return received.filter(where);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
