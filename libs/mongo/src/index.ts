export * from './mongo-client';
export * from './event-log.document';
export * from './leads';
