import type { HttpExchange, WebhookCommand } from '@triggers/contracts';
import { redactUserinfo } from '@triggers/address-policy';
import type { TraceSpan } from '@triggers/tracing';
import type { WebhookClient, WebhookResult } from './webhook-client';
import { signWebhook } from './webhook-signer';

export const USER_AGENT = 'Triggers-Webhooks/1.0';

/** One POST of a command: what came back, and the exchange as the Event Logs show it. */
export interface SentWebhook {
  result: WebhookResult;
  http: HttpExchange;
}

/**
 * The attempt step: signs the command's body (Standard Webhooks, every secret the trigger holds
 * now) and POSTs it through the client, continuing the command's trace; nothing else.
 * `url` is the command's URL parsed, undefined when it is not http(s) (refused unsent).
 */
export async function sendWebhook(
  client: WebhookClient,
  command: WebhookCommand,
  url: URL | undefined,
  secrets: string[],
  span: TraceSpan,
): Promise<SentWebhook> {
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': command.commandId,
    'webhook-timestamp': String(timestamp),
  };
  // secretsFor never answers an empty list (the delivery waits instead): no webhook leaves unsigned.
  headers['webhook-signature'] = signWebhook(secrets, command.commandId, timestamp, command.body);
  headers.traceparent = span.traceparent;
  if (span.tracestate) headers.tracestate = span.tracestate;

  const result: WebhookResult = url
    ? await client.post(url, headers, command.body)
    : {
        responseStatus: null,
        responseHeaders: {},
        responseBody: null,
        responseTruncated: false,
        durationMs: 0,
        errorClass: 'blocked',
        error: 'not an http(s) URL',
      };
  const { error: _error, ...response } = result;
  // Never a password in the Event Logs or on the log topic (such URLs are refused at save; older ones may remain).
  return { result, http: { method: 'POST', url: redactUserinfo(command.url), requestHeaders: headers, requestBody: command.body, ...response } };
}
