export * from './errors';
export * from './classify';
export * from './backoff';
