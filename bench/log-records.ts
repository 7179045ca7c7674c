import { LogRecord, logIdFor, newLogRecord, sampleEvent, webhookBody } from '@triggers/contracts';

const BODY = webhookBody('agent.wrap', sampleEvent('agent.wrap').payload);

/**
 * A delivered-webhook record, the most common kind and the largest (its request and response
 * are in it): tenant, trigger, id and time as `over` says, else spread over 10 tenants and 100
 * triggers, now.
 */
export function webhookRecord(i: number, over: Partial<Pick<LogRecord, 'logId' | 'tenantId' | 'triggerId' | 'time'>> = {}): LogRecord {
  return newLogRecord({
    logId: logIdFor('bench', i),
    tenantId: `tenant-${i % 10}`,
    triggerId: `trigger-${i % 100}`,
    time: Date.now(),
    ...over,
    eventId: `evt-${i}`,
    eventType: 'agent.wrap',
    commandId: `cmd-${i}`,
    step: 'webhook.delivered',
    status: 'ok',
    attempt: 1,
    message: 'delivered: HTTP 200 in 12 ms (attempt 1)',
    http: {
      method: 'POST',
      url: 'https://hooks.example.com/wrap',
      requestHeaders: { 'content-type': 'application/json', 'webhook-id': `cmd-${i}`, 'webhook-timestamp': '1700000000' },
      requestBody: BODY,
      responseStatus: 200,
      responseHeaders: { 'content-type': 'application/json' },
      responseBody: '{"ok":true}',
      responseTruncated: false,
      durationMs: 5 + (i % 200),
      errorClass: null,
    },
  });
}
