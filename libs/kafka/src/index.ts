export * from './kafka-client';
export * from './avro-serde';
export * from './topic-admin';
export * from './transactional-processor';
export * from './batch-consumer';
export * from './group-consumer';
export * from './producers';
