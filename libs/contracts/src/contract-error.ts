import { PoisonError } from '@triggers/errors';

/**
 * A value does not fit its Avro contract. Poison: the same bytes fail the same way, so a
 * consumer dead-letters the message with this message as the reason.
 */
export class ContractError extends PoisonError {
  constructor(
    message: string,
    /** Dot path of the offending field, e.g. `payload.lead.phones.1.completed`. */
    readonly path: string,
    /** Short class for metrics and `dlq-error-class` (`undecodable`, `unknown_schema`, `wrong_record`...). */
    code = 'undecodable',
  ) {
    super(path ? `${path}: ${message}` : message, { code });
  }
}
