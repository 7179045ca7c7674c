export * from './local-infra';
export * from './servers';
export * from './process-control';
export * from './repo';
export * from './app-process';
export * from './api-client';
export * from './wait-for';
export * from './spec-fixtures';
