export * from './tokens';
export * from './health-checks';
export * from './ops.controller';
export * from './nest-logger';
export * from './runtime.module';
export * from './bootstrap';
export * from './app-runtime';
