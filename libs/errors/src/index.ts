export * from './errors';
export * from './classify';
export * from './backoff';
export * from './webhook-failures';
