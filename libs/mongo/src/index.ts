export * from './mongo-client';
