import { Agent, Dispatcher } from 'undici';
import type { WebhookTimingConfig } from '@triggers/config';
import type { HttpResponse } from '@triggers/contracts';
import { WebhookFailure, webhookFailureOf } from '@triggers/errors';
import { AddressGuard, BlockedAddressError } from './address-guard';

/**
 * The outcome of one POST, as the Event Logs record it: a response (any status; the first
 * `maxResponseBytes` of its body, as text) or a failure before one arrived, whose `errorClass`
 * says why ({@link WebhookFailure}: `timeout.headers`, `connection.refused`, `blocked`...,
 * `http.status` for a non-2xx; null when delivered).
 */
export interface WebhookResult extends HttpResponse {
  errorClass: WebhookFailure | null;
  /** The failure in words, for the Event Logs. */
  error: string | null;
}

/** A delivery waiting for a connection to its origin, since `at`. */
type Waiter = { at: number; grant: (slot: Slot) => void };
/**
 * A connection slot: `release` when the request is over, saying whether the origin answered
 * (undefined when the request never reached it, as a refused address); or why none is given.
 */
type Slot = { release: (answered: boolean | undefined) => void; busy?: undefined } | { release?: undefined; busy: string };

/**
 * First in, first out, each step O(1): `Array.shift` copies the array, and one endpoint's queue
 * holds thousands (it cost 3 µs a delivery behind a single endpoint).
 */
class WaitQueue {
  private items: Waiter[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(w: Waiter): void {
    this.items.push(w);
  }

  peek(): Waiter | undefined {
    return this.items[this.head];
  }

  shift(): Waiter | undefined {
    if (this.head >= this.items.length) return undefined;
    const w = this.items[this.head];
    this.items[this.head++] = undefined as unknown as Waiter;
    if (this.head === this.items.length) this.items.length = this.head = 0;
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }

  /** Takes every waiter out, oldest first. */
  drain(): Waiter[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

interface OriginState {
  running: number;
  queue: WaitQueue;
  /** When a request of the origin last started, and last finished: its progress. */
  lastStartAt: number;
  lastDoneAt: number;
  /** Whether its last finished request got an answer (any status); undefined before the first. */
  answering?: boolean;
}

/**
 * Counts requests per origin and queues the ones over the cap, so one receiver cannot take every
 * connection. A slow endpoint is not a hung one: deliveries wait their turn for an origin that
 * answers, however slowly, up to `maxWaitMs` each. An origin whose last request got no answer (a
 * timeout, a reset, a refused connection) and whose connections have all been busy with nothing
 * started or finished for `stallMs` is hung: what waits for it, and what comes for it meanwhile,
 * is refused at once (`busy`), a failed attempt retried on the schedule. Waiting deliveries are
 * counted ({@link waiting}) so the dispatcher's window does not count them: a hung endpoint's
 * queue never holds the window of the others.
 */
class OriginLimiter {
  private readonly active = new Map<string, OriginState>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly stallMs: number;
  private queued = 0;

  constructor(
    private readonly perOrigin: number,
    private readonly maxWaitMs: number,
    /** Told each time a delivery starts waiting for a connection. */
    private readonly onWait: () => void = () => undefined,
  ) {
    this.stallMs = Math.min(1000, maxWaitMs / 2);
    this.sweeper = setInterval(() => this.expireWaiters(), Math.max(50, Math.min(this.stallMs / 2, maxWaitMs / 4)));
    this.sweeper.unref();
  }

  /** Deliveries waiting for a connection, across origins. */
  get waiting(): number {
    return this.queued;
  }

  /** A slot for `origin`: at once when one is free (no promise on the hot path), else once one frees up, or refused. */
  acquire(origin: string): Slot | Promise<Slot> {
    const now = Date.now();
    let s = this.active.get(origin);
    if (!s) this.active.set(origin, (s = { running: 0, queue: new WaitQueue(), lastStartAt: now, lastDoneAt: now }));
    if (s.running < this.perOrigin) return this.start(s, now);
    const stalled = this.stalled(origin, s, now);
    if (stalled) return stalled;
    const state = s;
    const waiting = new Promise<Slot>((resolve) => state.queue.push({ at: now, grant: resolve }));
    this.queued++;
    this.onWait();
    return waiting;
  }

  /** The refusal for `origin` when it stopped answering and all its connections have been busy, none started or finished, for `stallMs`. */
  private stalled(origin: string, s: OriginState, now: number): { busy: string } | undefined {
    const still = now - Math.max(s.lastStartAt, s.lastDoneAt);
    if (s.answering !== false || s.running < this.perOrigin || still < this.stallMs) return undefined;
    return {
      busy: `not sent: ${origin} did not answer its last request and has had all ${s.running} of its connections busy, none started or finished, for ${still} ms; ${s.queue.length} deliveries wait for them`,
    };
  }

  private start(s: OriginState, now: number): Slot {
    s.running++;
    s.lastStartAt = now;
    return {
      release: (answered) => {
        s.running--;
        s.lastDoneAt = Date.now();
        if (answered !== undefined) s.answering = answered;
        const next = this.take(s);
        if (next) next.grant(this.start(s, s.lastDoneAt)); // the slot passes straight to the next waiter
      },
    };
  }

  /** The next waiter of an origin, no longer counted as waiting. */
  private take(s: OriginState): Waiter | undefined {
    const next = s.queue.shift();
    if (next) this.queued--;
    return next;
  }

  /**
   * Refuses the deliveries waiting for a hung origin (they would wait `maxWaitMs` for nothing),
   * and those that have waited `maxWaitMs` for a connection (each queue is oldest first); forgets
   * the origins with nothing running or waiting.
   */
  private expireWaiters(): void {
    const now = Date.now();
    for (const [origin, s] of this.active) {
      const stalled = s.queue.length > 0 ? this.stalled(origin, s, now) : undefined;
      if (stalled) {
        this.queued -= s.queue.length;
        for (const waiter of s.queue.drain()) waiter.grant(stalled);
      }
      while (s.queue.length > 0 && now - s.queue.peek()!.at >= this.maxWaitMs) {
        const waiter = this.take(s)!;
        waiter.grant({
          busy: `not sent: waited ${now - waiter.at} ms for a connection to ${origin}, the most a delivery may wait (WEBHOOK_MAX_QUEUE_WAIT_MS)`,
        });
      }
      if (s.running === 0 && s.queue.length === 0) this.active.delete(origin);
    }
  }

  /** Requests running and waiting, by origin. */
  load(): Record<string, { running: number; waiting: number }> {
    return Object.fromEntries(
      [...this.active].filter(([, s]) => s.running > 0 || s.queue.length > 0).map(([o, s]) => [o, { running: s.running, waiting: s.queue.length }]),
    );
  }

  close(): void {
    clearInterval(this.sweeper);
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
    /** Told each time a delivery starts waiting for a connection (its window slot is free again). */
    onWait?: () => void,
  ) {
    this.agent = new Agent({
      connections: connectionsPerOrigin,
      pipelining: 1,
      headersTimeout: timing.headersTimeoutMs,
      bodyTimeout: timing.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: { timeout: timing.connectTimeoutMs, lookup: guard.lookup },
    });
    this.limiter = new OriginLimiter(connectionsPerOrigin, timing.maxQueueWaitMs, onWait);
  }

  /** Requests under way and queued, by origin (for /healthz). */
  load(): Record<string, { running: number; waiting: number }> {
    return this.limiter.load();
  }

  /** Deliveries waiting for a connection to their origin, across origins. */
  get waiting(): number {
    return this.limiter.waiting;
  }

  async post(url: URL, headers: Record<string, string>, body: string): Promise<WebhookResult> {
    const acquired = this.limiter.acquire(url.origin);
    const slot = 'then' in acquired ? await acquired : acquired;
    const started = performance.now();
    const done = (r: Omit<WebhookResult, 'durationMs'>): WebhookResult => ({ ...r, durationMs: Math.round(performance.now() - started) });
    if (slot.busy !== undefined) {
      return done({ responseStatus: null, responseHeaders: {}, responseBody: null, responseTruncated: false, errorClass: 'origin.busy', error: slot.busy });
    }
    const release = slot.release;
    let answered: boolean | undefined;
    try {
      const checking = this.guard.check(url);
      if (checking) await checking;
      // The whole exchange is bounded too: per-chunk timeouts alone let a receiver drip bytes
      // for hours. (No AbortSignal per request: its timer costs more than the request itself.)
      const deadline = Date.now() + this.timing.connectTimeoutMs + this.timing.headersTimeoutMs + this.timing.bodyTimeoutMs;
      const res = await exchange(this.agent, url, headers, body, this.timing.maxResponseBytes, deadline);
      answered = true;
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
      const errorClass = err instanceof BlockedAddressError ? 'blocked' : webhookFailureOf(err);
      // A refused address never reached the origin: it says nothing of whether it answers.
      answered = errorClass === 'blocked' ? undefined : false;
      return done({ responseStatus: null, responseHeaders: {}, responseBody: null, responseTruncated: false, errorClass, error: (err as Error).message });
    } finally {
      release(answered);
    }
  }

  async close(): Promise<void> {
    this.limiter.close();
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
