export * from './errors';
export * from './classify';
