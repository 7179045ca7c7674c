/**
 * Message keys and document ids, one spelling each. Everything about one trigger (its config
 * record, its webhook commands, its log records) is keyed `<tenantId>/<triggerId>`, so it stays
 * in one partition in order; a lead's commands and documents are keyed `<tenantId>/<leadId>`.
 * Tenant ids never contain `/` (the API's id rules), so the first `/` splits a key.
 */
export function triggerKey(tenantId: string, triggerId: string): string {
  return `${tenantId}/${triggerId}`;
}

/** The tenant and trigger of a {@link triggerKey}, or null when `key` is not one. */
export function parseTriggerKey(key: string): { tenantId: string; triggerId: string } | null {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) return null;
  return { tenantId: key.slice(0, slash), triggerId: key.slice(slash + 1) };
}

/** The key of a lead's commands and the id of its document: `<tenantId>/<leadId>`. */
export function leadKey(tenantId: string, leadId: string): string {
  return `${tenantId}/${leadId}`;
}

/** The id of a list document: `<tenantId>/<listId>`. */
export function listKey(tenantId: string, listId: string): string {
  return `${tenantId}/${listId}`;
}

/** The key of an event message: `<tenantId>/<routing id>` (the lead or call it concerns, else the event id). */
export function eventKey(tenantId: string, routingId: string): string {
  return `${tenantId}/${routingId}`;
}
