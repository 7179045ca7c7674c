/**
 * A value does not fit its Avro contract. Not retriable: the same bytes fail the same way, so a
 * consumer dead-letters the message with this message as the reason.
 */
export class ContractError extends Error {
  readonly retriable = false;
  constructor(
    message: string,
    /** Dot path of the offending field, e.g. `payload.lead.phones.1.completed`. */
    readonly path: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ContractError';
  }
}
