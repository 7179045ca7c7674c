/** The matcher's Avro serde (one registry client and schema cache for the whole app). */
export const MATCHER_SERDE = Symbol('MATCHER_SERDE');
