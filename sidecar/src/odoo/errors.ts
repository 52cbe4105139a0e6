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

/** Authentication refused: a configuration fault (wrong user, key or database). */
export class OdooAuthError extends Error {
  override name = "OdooAuthError";
}
