// Why a message-queue connection (RabbitMQ, Kafka, Redis Streams) cannot
// work, named by the Odoo connection field an admin fixes; main.ts's
// asConfigError tells it by `name` and the sidecar exits 2 with it.

/** The connection fields of a message-queue source (shopfloor.connection, `backbone_*`). */
export type BackboneField =
  | "backbone_url"
  | "backbone_names"
  | "backbone_group"
  | "backbone_consumer"
  | "backbone_username"
  | "backbone_password"
  | "backbone_sasl_mechanism"
  | "backbone_tls"
  | "backbone_ca"
  | "backbone_reject_unauthorized"
  | "backbone_client_cert"
  | "backbone_client_key"
  | "backbone_prefetch"
  | "backbone_claim_idle_ms";

export class BackboneConfigError extends Error {
  override name = "BackboneConfigError";
  readonly field: BackboneField;
  /** A broker that may come back (refused, unreachable): retried, not a reason to stop the sidecar. */
  readonly transient: boolean;

  constructor(field: BackboneField, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.field = field;
    this.transient = options?.transient ?? false;
  }
}
