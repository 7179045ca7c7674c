// The connection, then one folder per collection shared by several apps: its document type, its
// indexes and what writes it. Collections one app owns live with that app (triggers: the API).
export * from './bulk-write';
export * from './connection';
export * from './event-logs/event-log.document';
export * from './event-logs/event-log.queries';
export * from './event-logs/trigger-stats.document';
export * from './event-logs/trigger-stats.store';
export * from './event-logs/endpoint-health.store';
export * from './leads/lead.documents';
export * from './leads/lead-import';
export * from './store-migration';
