export * from './config-error';
export * from './env';
export * from './app-config';
export * from './infra-config';
export * from './apps';
