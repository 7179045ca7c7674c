import { hash } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { HEADERS, LogRecord, newLogRecord, parseTriggerKey } from '@triggers/contracts';

/** When an endpoint is failing, and how often given-up commands are told (HEALTH_* config). */
export interface HealthPolicy {
  /** Failed attempts in a row that make an endpoint failing (5). */
  failingAfterConsecutive: number;
  /** The window of the success ratio rule (15 minutes). */
  windowMs: number;
  /** Attempts the window needs before its ratio counts (10). */
  windowMinAttempts: number;
  /** Below this share of successes in the window, the endpoint is failing (0.5). */
  windowMinSuccessRatio: number;
  /** At most one trigger.webhook.gave_up notice per trigger per this long (10 minutes). */
  gaveUpEveryMs: number;
}

/** One trigger's endpoint health as committed (schemas/health/endpoint-health.avsc). */
export interface EndpointHealth {
  tenantId: string;
  triggerId: string;
  state: 'healthy' | 'failing';
  since: number;
  consecutiveFailures: number;
  buckets: { start: number; ok: number; failed: number }[];
  transitions: number;
  url: string | null;
  lastError: string | null;
  gaveUpPending: number;
  gaveUpToldAt: number | null;
}

export type HealthNoticeType = 'trigger.endpoint.failing' | 'trigger.endpoint.recovered' | 'trigger.webhook.gave_up';

/** A transition (or a batch of given-up commands) to tell the tenant, once. */
export interface HealthNotice {
  /** Deterministic: the same state and record always give the same id (the notification's `webhook-id`). */
  id: string;
  type: HealthNoticeType;
  at: number;
  payload: Record<string, unknown>;
}

/** The steps that end one attempt of a tenant's webhook, and whether it succeeded. */
const ATTEMPT_STEPS: Record<string, boolean> = {
  'webhook.delivered': true,
  'webhook.attempt': false,
  'webhook.gave_up': false,
  'webhook.blocked': false,
};

/** Origins whose attempts say nothing of the endpoint's health: the notifications themselves. */
export const NOTIFICATION_ORIGIN = 'notification';

/** Whether a log record is one attempt at a trigger's endpoint (and so counts for its health). */
export function isEndpointAttempt(r: LogRecord): boolean {
  return r.triggerId !== null && r.step in ATTEMPT_STEPS && r.origin !== NOTIFICATION_ORIGIN;
}

const header = (m: KafkaMessage, name: string): string | undefined => {
  const v = m.headers?.[name];
  return v === undefined || Array.isArray(v) ? undefined : v.toString();
};

/**
 * What a log message means for the endpoint health, from its key, headers and timestamp alone:
 * most of the log is not an attempt at a trigger's endpoint (matches, lead moves, the
 * notifications' own attempts) and is skipped undecoded, and a delivery needs nothing its
 * headers do not say. A failure is decoded (its URL and error are told); so is a message
 * without the headers (written before they existed).
 */
export function prejudgeLogMessage(m: KafkaMessage): { skip: true } | { value: LogRecord } | undefined {
  const step = header(m, HEADERS.logStep);
  if (step === undefined) return undefined;
  if (!(step in ATTEMPT_STEPS)) return { skip: true };
  const origin = header(m, HEADERS.logOrigin);
  if (origin === undefined) return undefined;
  if (origin === NOTIFICATION_ORIGIN) return { skip: true };
  const trigger = ATTEMPT_STEPS[step] ? parseTriggerKey(m.key?.toString() ?? '') : null;
  if (!trigger) return undefined;
  const time = Number(m.timestamp);
  if (!Number.isFinite(time)) return undefined;
  return { value: newLogRecord({ logId: header(m, HEADERS.logId) ?? '', ...trigger, step, status: 'ok', time, origin }) };
}

const BUCKETS = 15;

function fresh(r: LogRecord): EndpointHealth {
  return {
    tenantId: r.tenantId,
    triggerId: r.triggerId!,
    state: 'healthy',
    since: r.time,
    consecutiveFailures: 0,
    buckets: [],
    transitions: 0,
    url: null,
    lastError: null,
    gaveUpPending: 0,
    gaveUpToldAt: null,
  };
}

/** The notice id: one per trigger and transition number. */
export function noticeIdOf(tenantId: string, triggerId: string, seq: number): string {
  return `ntf_${hash('sha256', `${tenantId}\u0000${triggerId}\u0000${seq}`, 'hex').slice(0, 32)}`;
}

function notice(h: EndpointHealth, type: HealthNoticeType, at: number, payload: Record<string, unknown>): HealthNotice {
  h.transitions += 1;
  return { id: noticeIdOf(h.tenantId, h.triggerId, h.transitions), type, at, payload: { triggerId: h.triggerId, url: h.url, ...payload } };
}

function windowCounts(h: EndpointHealth): { ok: number; failed: number } {
  let ok = 0;
  let failed = 0;
  for (const b of h.buckets) {
    ok += b.ok;
    failed += b.failed;
  }
  return { ok, failed };
}

function count(h: EndpointHealth, at: number, ok: boolean, policy: HealthPolicy): void {
  const bucketMs = Math.max(1, Math.floor(policy.windowMs / BUCKETS));
  const start = at - (at % bucketMs);
  h.buckets = h.buckets.filter((b) => b.start > at - policy.windowMs);
  let bucket = h.buckets.find((b) => b.start === start);
  if (!bucket) {
    bucket = { start, ok: 0, failed: 0 };
    h.buckets.push(bucket);
    h.buckets.sort((a, b) => a.start - b.start);
  }
  if (ok) bucket.ok += 1;
  else bucket.failed += 1;
}

/** What the record said went wrong, in a tenant admin's words. */
function errorOf(r: LogRecord): string {
  const status = r.http?.responseStatus;
  if (status) return `HTTP ${status}`;
  return r.http?.errorClass ?? r.message ?? r.step;
}

/**
 * Tells given-up commands held back by the 10-minute rule once their time has come (any record of
 * the partition at or after it carries the time forward).
 */
export function flushGaveUp(h: EndpointHealth, at: number, policy: HealthPolicy): HealthNotice | null {
  if (h.gaveUpPending === 0 || (h.gaveUpToldAt !== null && at - h.gaveUpToldAt < policy.gaveUpEveryMs)) return null;
  const told = notice(h, 'trigger.webhook.gave_up', at, { count: h.gaveUpPending, lastError: h.lastError });
  h.gaveUpPending = 0;
  h.gaveUpToldAt = at;
  return told;
}

/**
 * The decision: the health after one attempt record, and the notices it makes. Pure: the same
 * committed health and record always give the same result, so a batch processed again after a
 * crash makes the same notices with the same ids. `prev` is not changed.
 */
export function observeAttempt(prev: EndpointHealth | undefined, r: LogRecord, policy: HealthPolicy): { next: EndpointHealth; notices: HealthNotice[] } {
  const h: EndpointHealth = prev ? { ...prev, buckets: prev.buckets.map((b) => ({ ...b })) } : fresh(r);
  const ok = ATTEMPT_STEPS[r.step];
  const notices: HealthNotice[] = [];
  if (r.http?.url) h.url = r.http.url;
  count(h, r.time, ok, policy);
  if (ok) {
    h.consecutiveFailures = 0;
    if (h.state === 'failing') {
      const failingSince = h.since;
      h.state = 'healthy';
      h.since = r.time;
      // A fresh window: the failures that made it failing do not make it failing again at once.
      h.buckets = [];
      notices.push(notice(h, 'trigger.endpoint.recovered', r.time, { state: 'healthy', since: r.time, failingSince }));
    }
  } else {
    h.consecutiveFailures += 1;
    h.lastError = errorOf(r);
    if (r.step === 'webhook.gave_up') h.gaveUpPending += 1;
    const { ok: okInWindow, failed } = windowCounts(h);
    const attempts = okInWindow + failed;
    const byRatio = attempts >= policy.windowMinAttempts && okInWindow / attempts < policy.windowMinSuccessRatio;
    if (h.state === 'healthy' && (h.consecutiveFailures >= policy.failingAfterConsecutive || byRatio)) {
      h.state = 'failing';
      h.since = r.time;
      notices.push(
        notice(h, 'trigger.endpoint.failing', r.time, {
          state: 'failing',
          since: r.time,
          rule: h.consecutiveFailures >= policy.failingAfterConsecutive ? 'consecutive-failures' : 'success-ratio',
          consecutiveFailures: h.consecutiveFailures,
          window: { attempts, failed, minutes: Math.round(policy.windowMs / 60_000) },
          lastError: h.lastError,
        }),
      );
    }
  }
  const gaveUp = flushGaveUp(h, r.time, policy);
  if (gaveUp) notices.push(gaveUp);
  return { next: h, notices };
}
