/**
 * The story `npm start` tells once the system is up: a demo tenant with an API key, demo lists
 * and leads, the spec's four example triggers created through the API (webhooks pointed at a
 * local receiver that prints and verifies each delivery), the spec's sample events produced, and
 * every step of the pipeline printed as it happens, read from the log topic.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Consumer, Producer } from 'kafkajs';
import { AccessStore } from '@triggers/access';
import type { ApiConfig } from '@triggers/config';
import { EventType, LogRecord, eventKey, eventTopicKeyOf } from '@triggers/contracts';
import { AvroSerde, createIdempotentProducer, createKafka, createRegistry } from '@triggers/kafka';
import type { Logger } from '@triggers/logging';
import { connectMongo, importLeads, importLists } from '@triggers/mongo';
import { ApiClient, specPayload, specTriggerParameters } from '@triggers/local-infra';

const TENANT = 'demo';

/** The spec's four triggers, with the event type and name the help page gives each. */
const TRIGGERS = [
  { file: 'move-leads-by-attempts.json', name: 'Move Leads based on Dial Attempts', eventType: 'outbound.lead.outcome.predictive' },
  { file: 'move-lead-by-wrap-code.json', name: 'Move Lead based on Wrap Code', eventType: 'outbound.lead.outcome.preview' },
  { file: 'webhook-on-agent-wrap.json', name: 'Send Webhook on Agent Wrap', eventType: 'agent.wrap' },
  { file: 'webhook-on-mpiq-attempt.json', name: 'Send a Webhook on MPIQ Attempt', eventType: 'mpiq.attempt' },
];

/** Lists and leads the spec's examples need: the lead moves stay within their campaigns. */
const LISTS = [
  { listId: '20583', campaignId: '1695', name: 'Preview: new leads' },
  { listId: '445', campaignId: '1695', name: 'Preview: wrap code 185 callbacks' },
  { listId: '20580', campaignId: '53', name: 'Predictive: fresh' },
  { listId: '354', campaignId: '53', name: 'Predictive: three attempts or more' },
];
const LEADS = [
  { leadId: '131414', campaignId: '1695', listId: '20583' },
  { leadId: '131410', campaignId: '53', listId: '20580' },
];

export interface DemoOptions {
  config: ApiConfig;
  logger: Logger;
  apiUrl: string;
  receiverPort: number;
  say: (line: string) => void;
}

/** Runs the demo; resolves once its events are produced. `stop()` closes what it opened. */
export async function runDemo({ config, logger, apiUrl, receiverPort, say }: DemoOptions): Promise<{ stop: () => Promise<void> }> {
  const time = () => new Date().toISOString().slice(11, 19);
  const mongo = await connectMongo(config.mongodbUri);
  const access = new AccessStore(mongo.db);
  await access.ensureIndexes();
  if (!(await access.getTenant(TENANT))) await access.createTenant(TENANT, 'Demo Contact Centre');
  const { key } = await access.createKey(TENANT, ['triggers:read', 'triggers:write']);
  await importLists(mongo.db, TENANT, LISTS);
  await importLeads(mongo.db, TENANT, LEADS);
  await mongo.client.close();
  say(`  tenant "${TENANT}", API key: ${key}`);
  say(`  ${LISTS.length} lists and ${LEADS.length} leads imported`);

  // The receiver stands in for the tenant's web services; the MPIQ hook fails once, so the retry shows.
  const secrets = new Map<string, string>();
  let mpiqCalls = 0;
  const receiver: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const secret = secrets.get(path);
      let check = 'no secret known';
      if (secret) {
        try {
          new Webhook(secret).verify(body, req.headers as Record<string, string>);
          check = 'signature valid';
        } catch (err) {
          check = `signature INVALID (${(err as Error).message})`;
        }
      }
      const fail = path.includes('mpiq') && mpiqCalls++ === 0;
      say(`${time()} ⇐ receiver: ${req.method} ${path}  webhook-id ${req.headers['webhook-id']}  ${check}  → answering ${fail ? 500 : 200}`);
      say(`           body ${body.length > 160 ? `${body.slice(0, 160)}…` : body}`);
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(fail ? '{"error":"the demo receiver fails the first MPIQ delivery on purpose"}' : '{"received":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  say(`  demo receiver listening at ${receiverUrl}`);

  // Triggers through the API, as a tenant admin's script would create them; earlier demo runs' are replaced.
  const api = new ApiClient(apiUrl, key);
  const existing = await api.get<{ items: { id: string }[] }>('/v1/triggers?limit=100');
  for (const t of existing.body?.items ?? []) await api.delete(`/v1/triggers/${t.id}`);
  const spec = specTriggerParameters();
  for (const t of TRIGGERS) {
    const parameters = spec[t.file].parameters as { actions: { action: string; parameters: Record<string, string> }[] };
    const path = `/${t.file.replace(/\.json$/, '')}`;
    for (const a of parameters.actions) if (a.action === 'webhook') a.parameters.url = `${receiverUrl}${path}`;
    const created = await api.post<{ id: string; webhookSecret?: string; warnings?: unknown[] }>('/v1/triggers', {
      name: t.name,
      eventType: t.eventType,
      enabled: true,
      parameters: JSON.stringify(parameters),
    });
    if (created.status !== 201) throw new Error(`creating "${t.name}" failed: HTTP ${created.status} ${JSON.stringify(created.body)}`);
    if (created.body.webhookSecret) secrets.set(path, created.body.webhookSecret);
    say(`  trigger "${t.name}" (${t.eventType}) created: ${created.body.id}`);
  }

  // Narrate the pipeline from the log topic, from now on.
  const kafka = createKafka(config.kafka, logger);
  const serde = new AvroSerde(createRegistry(config.registry), config.kafka.topics);
  const consumer: Consumer = kafka.consumer({ groupId: `${config.kafka.namespace}-demo-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: config.kafka.topics.log, fromBeginning: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = (await serde.decode<LogRecord>(message.value)).value;
      if (r.tenantId === TENANT) say(`${time()} ${narrate(r)}`);
    },
  });
  await joined;

  const producer: Producer = createIdempotentProducer(kafka);
  await producer.connect();
  const events = demoEvents();
  say(`\n▶ Producing ${events.length} of the spec's sample events for tenant "${TENANT}" (4 of them match a trigger)`);
  for (const e of events) {
    const topic = config.kafka.topics[eventTopicKeyOf(e.type)];
    const eventId = `demo-${e.label}-${Date.now()}`;
    const value = await serde.encode(eventTopicKeyOf(e.type), { tenantId: TENANT, eventId, type: e.type, payload: e.payload });
    await producer.send({ topic, messages: [{ key: eventKey(TENANT, eventId), value }] });
    say(`${time()} ⇒ produced ${e.type} (${e.label})`);
  }
  return {
    stop: async () => {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await new Promise((resolve) => receiver.close(resolve));
    },
  };
}

/** The spec's sample events, and the four adjusted so each meets one of the spec's triggers. */
function demoEvents(): { label: string; type: EventType; payload: Record<string, unknown> }[] {
  const sample = (file: string, changes: Record<string, unknown> = {}) => {
    const { event } = specPayload(file);
    return { label: file.replace(/\.json$/, ''), type: event.type, payload: { ...event.payload, ...changes } };
  };
  const predictive = specPayload('predictive-answering-machine.json').event.payload;
  return [
    sample('agent-wrap-inbound.json', { campaignId: '215' }),
    sample('mpiq-attempt.json', { campaign_id: '223' }),
    sample('preview-answer-completed.json', { campaignId: '1695', wrapCode: '185' }),
    sample('predictive-answering-machine.json', { campaignId: '53', lead: { ...(predictive.lead as object), leadId: '131410', totalAttempts: '3' } }),
    sample('inbound-queue-abandon.json'),
    sample('agent-wrap-manual-outbound.json'),
  ];
}

/** One log record in words. */
function narrate(r: LogRecord): string {
  const http = r.http;
  switch (r.step) {
    case 'matched':
      return `✓ ${r.eventType} event ${r.eventId}: ${r.message}`;
    case 'webhook.delivered':
      return `→ webhook ${http?.url}: ${r.message}`;
    case 'webhook.attempt':
      return `↻ webhook ${http?.url}: ${r.message}`;
    case 'lead.moved':
      return `⇄ ${r.message}`;
    default:
      return `• ${r.step} (${r.status}): ${r.message ?? ''}`;
  }
}
