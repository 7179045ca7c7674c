// The local servers, app processes, API client and spec examples tests use come from
// @triggers/local-infra (which npm start and the benches use too), re-exported here so a test
// imports its helpers from one place.
export * from '@triggers/local-infra';
export * from './test-context';
export * from './topic-reader';
export * from './api-client';
export * from './pipeline-helpers';
export * from './webhook-receiver';
export * from './scratch-ferretdb';
export * from './tcp-proxy';
export * from './harness';
export * from './hostile-urls';
export * from './npm-script';
export * from './event-log-history';
