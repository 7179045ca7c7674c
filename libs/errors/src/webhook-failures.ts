/**
 * Why a webhook attempt did not deliver, as the Event Logs, the log topic and the metrics name it
 * (`errorClass`). Kept here beside the consumers' error kinds so every app, tool and test reads
 * one vocabulary; {@link webhookFailureOf} turns an error of undici or Node into one of them.
 */
export const WEBHOOK_FAILURES = {
  /** The endpoint answered with a status outside 2xx. */
  'http.status': 'an answer outside 2xx',
  'timeout.connect': 'no connection within WEBHOOK_CONNECT_TIMEOUT_MS',
  'timeout.headers': 'no response headers within WEBHOOK_HEADERS_TIMEOUT_MS',
  'timeout.body': 'the response body stalled for WEBHOOK_BODY_TIMEOUT_MS',
  'timeout.total': 'the exchange outlasted its timeouts together',
  'connection.refused': 'the connection was refused',
  'connection.reset': 'the connection was reset or closed mid-exchange',
  'connection.unreachable': 'no route to the address',
  dns: 'the host name did not resolve',
  tls: 'the TLS handshake or certificate failed',
  network: 'another network error',
  /** Never sent: the address policy refused the URL or an address it resolved to. */
  blocked: 'refused by the address policy (not retried)',
  /** Never sent: the endpoint's connections were all stuck or the wait for one ran out. */
  'origin.busy': 'not sent: the endpoint could not take it',
} as const;

export type WebhookFailure = keyof typeof WEBHOOK_FAILURES;

/** Error codes of undici and Node, by the failure the Event Logs show. */
const CODES: Record<string, WebhookFailure> = {
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

/** The failure of a request that threw (undici, Node's sockets and DNS, the address policy's `EBLOCKED`). */
export function webhookFailureOf(err: unknown): WebhookFailure {
  const e = err as { code?: string; name?: string; cause?: { code?: string } } | null;
  const code = e?.code ?? e?.cause?.code ?? e?.name ?? '';
  if (CODES[code]) return CODES[code];
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout.total';
  if (/CERT|TLS|SSL/i.test(code)) return 'tls';
  return 'network';
}
