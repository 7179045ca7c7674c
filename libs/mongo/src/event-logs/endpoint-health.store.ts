import type { Db } from 'mongodb';
import type { LogRecord } from '@triggers/contracts';

/** A trigger's webhook endpoint health as the page and the API show it. */
export interface EndpointHealthView {
  state: 'healthy' | 'failing';
  /** When the state began; null for an endpoint that was never failing. */
  since: string | null;
  message: string | null;
}

/** The latest health transition of a trigger (`_id` = `<tenantId>/<triggerId>`). */
interface EndpointHealthDocument {
  _id: string;
  tenantId: string;
  triggerId: string;
  state: EndpointHealthView['state'];
  time: Date;
  message: string | null;
}

export const ENDPOINT_HEALTH_COLLECTION = 'endpoint_health';

/** The log steps that record a transition, and the state each leaves the endpoint in. */
export const HEALTH_STEPS: Record<string, EndpointHealthView['state']> = { 'endpoint.failing': 'failing', 'endpoint.recovered': 'healthy' };

const idOf = (tenantId: string, triggerId: string) => `${tenantId}/${triggerId}`;

/**
 * Keeps each trigger's latest transition from the log records that record one (a few, among many
 * records): a record older than the one stored changes nothing, and a record stored again (a batch
 * written twice) neither, so the store agrees with the log topic whatever order and repeats.
 */
export async function recordEndpointHealth(db: Db, records: LogRecord[]): Promise<number> {
  const collection = db.collection<EndpointHealthDocument>(ENDPOINT_HEALTH_COLLECTION);
  let written = 0;
  for (const r of records) {
    const state = HEALTH_STEPS[r.step];
    if (!state || r.triggerId === null) continue;
    const time = new Date(r.time);
    try {
      const res = await collection.updateOne(
        { _id: idOf(r.tenantId, r.triggerId), time: { $lt: time } },
        { $set: { tenantId: r.tenantId, triggerId: r.triggerId, state, time, message: r.message } },
        { upsert: true },
      );
      written += res.modifiedCount + res.upsertedCount;
    } catch (err) {
      // A transition as new or newer is stored already: the upsert's insert meets its _id.
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  return written;
}

/** The health of some of a tenant's triggers, by trigger id (absent: never failing so far). One lookup by `_id`. */
export async function endpointHealthOf(db: Db, tenantId: string, triggerIds: string[]): Promise<Map<string, EndpointHealthView>> {
  if (triggerIds.length === 0) return new Map();
  const docs = await db
    .collection<EndpointHealthDocument>(ENDPOINT_HEALTH_COLLECTION)
    .find({ _id: { $in: triggerIds.map((id) => idOf(tenantId, id)) } })
    .toArray();
  return new Map(docs.filter((d) => d.tenantId === tenantId).map((d) => [d.triggerId, { state: d.state, since: d.time.toISOString(), message: d.message }]));
}
