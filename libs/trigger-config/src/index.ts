export * from './trigger-config-feed';
export * from './trigger-config.module';
