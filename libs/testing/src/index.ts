export * from './wait-for';
export * from './infra/local-infra';
export * from './infra/servers';
export * from './infra/process-control';
export * from './repo';
export * from './spec-fixtures';
export * from './test-context';
export * from './topic-reader';
