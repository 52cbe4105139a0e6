// How a call to Odoo can fail, whatever the transport (XML-RPC today,
// JSON-2 for Odoo 19): delivery decides what to retry from these classes.
/** The call never reached Odoo or its answer never came back: retry later. */
export class OdooTransportError extends Error {
  override name = "OdooTransportError";
}

/** Odoo answered with an XML-RPC fault (an exception on the server). */
export class OdooFault extends Error {
  override name = "OdooFault";
  readonly faultCode: unknown;
  constructor(message: string, faultCode: unknown) {
    super(message);
    this.faultCode = faultCode;
  }
}

/**
 * Faults that say nothing about the events in the call: the database was busy
 * (PostgreSQL concurrency errors Odoo already retried five times, a lost or
 * refused database connection, a full connection pool). The same call can
 * succeed a moment later, so it is retried whole; it must never be bisected
 * down to one event and set aside as rejected input.
 */
const TRANSIENT_FAULT =
  /could not serialize access|deadlock detected|could not obtain lock|SerializationFailure|DeadlockDetected|LockNotAvailable|psycopg2\.(errors\.)?OperationalError|connection pool is full|server closed the connection unexpectedly|too many clients/i;

export function isTransientFault(error: unknown): boolean {
  return error instanceof OdooFault && TRANSIENT_FAULT.test(error.message);
}

/** Authentication refused: a configuration fault (wrong user, key or database). */
export class OdooAuthError extends Error {
  override name = "OdooAuthError";
}
