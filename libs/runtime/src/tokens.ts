/** DI tokens of the values every app shares. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const APP_LOGGER = Symbol('APP_LOGGER');
export const KAFKA = Symbol('KAFKA');
export const MONGO = Symbol('MONGO');
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
/** The app's one Avro serde (one registry client and schema cache per process). */
export const AVRO_SERDE = Symbol('AVRO_SERDE');
