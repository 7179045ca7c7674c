export * from './trigger.model';
export * from './event-type-names';
export * from './reference-catalog';
export * from './values';
export * from './retry-window';
export { validateTrigger, describeJsonError } from './validate-trigger';
export * from './compile-trigger';
export * from './trigger-index';
