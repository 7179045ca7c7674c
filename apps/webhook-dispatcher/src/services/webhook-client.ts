import { Agent, Dispatcher } from 'undici';
import type { WebhookTimingConfig } from '@triggers/config';
import type { HttpResponse } from '@triggers/contracts';
import { AddressGuard, BlockedAddressError } from './address-guard';

/**
 * The outcome of one POST, as the Event Logs record it: a response (any status; the first
 * `maxResponseBytes` of its body, as text) or a failure before one arrived, whose `errorClass`
 * says why (`timeout.headers`, `connection.refused`, `blocked`..., `http.status` for a non-2xx).
 */
export interface WebhookResult extends HttpResponse {
  /** The failure in words, for the Event Logs. */
  error: string | null;
}

/** Error codes of undici and Node, by the class the Event Logs show. */
const ERROR_CLASSES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'timeout.connect',
  UND_ERR_HEADERS_TIMEOUT: 'timeout.headers',
  UND_ERR_BODY_TIMEOUT: 'timeout.body',
  UND_ERR_ABORTED: 'timeout.total',
  ABORT_ERR: 'timeout.total',
  ECONNREFUSED: 'connection.refused',
  ECONNRESET: 'connection.reset',
  UND_ERR_SOCKET: 'connection.reset',
  EPIPE: 'connection.reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EHOSTUNREACH: 'connection.unreachable',
  ENETUNREACH: 'connection.unreachable',
  EBLOCKED: 'blocked',
};

/** Classifies a request failure. */
export function errorClassOf(err: unknown): string {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  if (err instanceof BlockedAddressError) return 'blocked';
  const code = e.code ?? e.cause?.code ?? e.name ?? '';
  if (ERROR_CLASSES[code]) return ERROR_CLASSES[code];
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout.total';
  if (/CERT|TLS|SSL/i.test(code)) return 'tls';
  return 'network';
}

/** Counts requests per origin and queues the ones over the cap, so one receiver cannot take every connection. */
class OriginLimiter {
  private readonly active = new Map<string, { running: number; queue: (() => void)[] }>();

  constructor(private readonly perOrigin: number) {}

  /** A slot for `origin`: at once when one is free (no promise on the hot path), else once one frees up. */
  acquire(origin: string): (() => void) | Promise<() => void> {
    let slot = this.active.get(origin);
    if (!slot) this.active.set(origin, (slot = { running: 0, queue: [] }));
    const s = slot;
    const release = () => {
      const next = s.queue.shift();
      if (next) return next(); // the slot passes straight to the next waiter
      s.running--;
      if (s.running === 0) this.active.delete(origin);
    };
    if (s.running < this.perOrigin) {
      s.running++;
      return release;
    }
    return new Promise<() => void>((resolve) => s.queue.push(() => resolve(release)));
  }

  /** Requests running and waiting, by origin. */
  load(): Record<string, { running: number; waiting: number }> {
    return Object.fromEntries([...this.active].map(([o, s]) => [o, { running: s.running, waiting: s.queue.length }]));
  }
}

/**
 * POSTs webhooks with undici: a keep-alive pool per origin with at most `connectionsPerOrigin`
 * connections and as many requests at once, the SSRF guard before and during connecting, no
 * redirects followed (a 3xx is a failure like any non-2xx), timeouts from configuration, and at
 * most `maxResponseBytes` of a response read (the spec: larger responses are not processed).
 */
export class WebhookClient {
  private readonly agent: Agent;
  private readonly limiter: OriginLimiter;

  constructor(
    private readonly timing: WebhookTimingConfig,
    private readonly guard: AddressGuard,
    connectionsPerOrigin: number,
  ) {
    this.agent = new Agent({
      connections: connectionsPerOrigin,
      pipelining: 1,
      headersTimeout: timing.headersTimeoutMs,
      bodyTimeout: timing.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: { timeout: timing.connectTimeoutMs, lookup: guard.lookup },
    });
    this.limiter = new OriginLimiter(connectionsPerOrigin);
  }

  /** Requests under way and queued, by origin (for /healthz). */
  load(): Record<string, { running: number; waiting: number }> {
    return this.limiter.load();
  }

  async post(url: URL, headers: Record<string, string>, body: string): Promise<WebhookResult> {
    const slot = this.limiter.acquire(url.origin);
    const release = typeof slot === 'function' ? slot : await slot;
    const started = performance.now();
    const done = (r: Omit<WebhookResult, 'durationMs'>): WebhookResult => ({ ...r, durationMs: Math.round(performance.now() - started) });
    try {
      const checking = this.guard.check(url);
      if (checking) await checking;
      // The whole exchange is bounded too: per-chunk timeouts alone let a receiver drip bytes
      // for hours. (No AbortSignal per request: its timer costs more than the request itself.)
      const deadline = Date.now() + this.timing.connectTimeoutMs + this.timing.headersTimeoutMs + this.timing.bodyTimeoutMs;
      const res = await exchange(this.agent, url, headers, body, this.timing.maxResponseBytes, deadline);
      const ok = res.status >= 200 && res.status < 300;
      return done({
        responseStatus: res.status,
        responseHeaders: res.headers,
        responseBody: res.text,
        responseTruncated: res.truncated,
        errorClass: ok ? null : 'http.status',
        error: ok ? null : `HTTP ${res.status}`,
      });
    } catch (err) {
      return done({
        responseStatus: null,
        responseHeaders: {},
        responseBody: null,
        responseTruncated: false,
        errorClass: errorClassOf(err),
        error: (err as Error).message,
      });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Raised when a response body is still arriving at the exchange's deadline. */
class TotalTimeoutError extends Error {
  readonly code = 'UND_ERR_ABORTED';
}

/**
 * One POST through undici's dispatcher API: callbacks straight from the HTTP parser, without the
 * response stream and promises `request()` makes per call. Reads up to `max` bytes of the body
 * and stops: the rest is never read (the connection is dropped). A body still arriving at
 * `deadline` is abandoned the same way.
 */
function exchange(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  max: number,
  deadline: number,
): Promise<{ status: number; headers: Record<string, string>; text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let responseHeaders: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (truncated: boolean) => {
      settled = true;
      resolve({ status, headers: responseHeaders, text: Buffer.concat(chunks, size).toString('utf8'), truncated });
    };
    const handler: Dispatcher.DispatchHandler = {
      // Its presence is how undici tells this callback style from the older one.
      onRequestStart() {},
      onResponseStart(_controller, statusCode, headers) {
        status = statusCode;
        responseHeaders = flattenHeaders(headers);
      },
      onResponseData(controller, chunk) {
        if (settled) return;
        if (size + chunk.length > max) {
          chunks.push(chunk.subarray(0, max - size));
          size = max;
          finish(true);
          controller.abort(new Error('response body past the limit; not read further'));
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
        if (Date.now() > deadline) {
          settled = true;
          const err = new TotalTimeoutError('the response took longer than the connect, headers and body timeouts together');
          controller.abort(err);
          reject(err);
        }
      },
      onResponseEnd() {
        if (!settled) finish(false);
      },
      onResponseError(_controller, err) {
        if (settled) return;
        settled = true;
        reject(err);
      },
    };
    agent.dispatch({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers, body }, handler);
  });
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
