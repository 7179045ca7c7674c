/**
 * What an error means for the message being handled when it was thrown:
 * - `poison`: this message is bad; the same bytes fail the same way, so it is dead-lettered with
 *   the reason and its partition goes on;
 * - `transient`: something else (registry, broker, database, network) did not answer; the message
 *   waits and is handled again once it does, never discarded;
 * - `fatal`: the configuration is wrong (credentials refused, a topic missing); nothing a retry
 *   soon would fix, but the message is still not the culprit, so it waits too, loudly.
 */
export type ErrorKind = 'poison' | 'transient' | 'fatal';

/**
 * The base of the product's own errors: what it means (`kind`, and `retriable` for code that reads
 * kafkajs-style flags), the dependency it concerns, a short machine-readable `code`, and the
 * underlying `cause`.
 */
export abstract class TriggersError extends Error {
  abstract readonly kind: ErrorKind;
  /** The dependency that failed (`schemaRegistry`, `kafka`, `mongodb`, `leadsStore`...), when one did. */
  readonly dependency?: string;
  /** A short class for metrics and `dlq-error-class` (`undecodable`, `wrong_topic`...); the name when absent. */
  readonly code?: string;

  constructor(message: string, options: { cause?: unknown; dependency?: string; code?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.dependency = options.dependency;
    this.code = options.code;
  }

  get retriable(): boolean {
    return this.kind !== 'poison';
  }
}

/** This message is bad: dead-letter it with this reason and go on. */
export class PoisonError extends TriggersError {
  readonly kind = 'poison' as const;
}

/** A dependency did not answer or answered "later": wait and handle the same message again. */
export class TransientError extends TriggersError {
  readonly kind = 'transient' as const;
}

/** A configuration problem (refused credentials, a missing topic): wait, and say so loudly. */
export class FatalError extends TriggersError {
  readonly kind = 'fatal' as const;
}
