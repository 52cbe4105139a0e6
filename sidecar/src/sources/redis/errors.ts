// A Redis source setting that cannot work, named by the connection field an
// admin fixes in Odoo. main.ts's asConfigError tells it by `name`.

export type BackboneField =
  | "backbone_url"
  | "backbone_names"
  | "backbone_group"
  | "backbone_consumer"
  | "backbone_username"
  | "backbone_password"
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

  constructor(field: BackboneField, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.field = field;
  }
}
