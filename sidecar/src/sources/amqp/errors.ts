// Errors of the RabbitMQ source that are configuration, not weather: each
// names the connection field in Odoo (shopfloor.connection) to fix, and the
// sidecar exits 2 with it at startup (main.ts asConfigError).

/** The connection fields of a message-queue source an admin edits in Odoo. */
export type AmqpField =
  | "backbone_url"
  | "backbone_names"
  | "backbone_username"
  | "backbone_password"
  | "backbone_tls"
  | "backbone_ca"
  | "backbone_reject_unauthorized"
  | "backbone_client_cert"
  | "backbone_client_key"
  | "backbone_prefetch";

export class AmqpConfigError extends Error {
  override name = "AmqpConfigError";
  readonly field: AmqpField;

  constructor(field: AmqpField, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.field = field;
  }
}
