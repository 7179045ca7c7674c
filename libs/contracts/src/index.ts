export * from './event-types';
export * from './topics';
export * from './contract-error';
export * from './schema-catalog';
export * from './json-avro';
export * from './avro-types';
export * from './messages';
