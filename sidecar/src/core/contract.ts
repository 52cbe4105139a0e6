// The contract between the sidecar and the Odoo module (ARCHITECTURE.md):
// the event envelope, the RPC API's shapes, and the seams every adapter
// implements. Adapters live elsewhere; this file holds types only.

/** A CloudEvents 1.0 event in JSON structured mode, as the module stores it. */
export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: EventType;
  time: string;
  subject?: string;
  datacontenttype?: "application/json";
  data: Record<string, unknown>;
  /** Extensions added by the sidecar. */
  observedtime?: string;
  connection?: string;
  mappingrev?: number;
  [extension: string]: unknown;
}

export const EVENT_TYPES = [
  "workorder.started",
  "workorder.paused",
  "workorder.resumed",
  "workorder.completed",
  "production.reported",
  "material.consumed",
  "scrap.reported",
  "quality.result",
  "quality.hold",
  "quality.released",
  "downtime.started",
  "downtime.ended",
  "setup.started",
  "setup.ended",
  "teardown.started",
  "teardown.ended",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Limits of the event contract, enforced by both sides (the module: event_validation.py). */
export const MAX_EVENT_BYTES = 256 * 1024;
export const MAX_STRING_CHARS = 4096;
/** Most events one `shopfloor.event.ingest` call carries. */
export const MAX_INGEST_BATCH = 1000;

/**
 * What the sidecar sends for input it could not turn into a valid event, so
 * that Odoo stores it as `rejected` with the raw bytes and the reason. Sent
 * through `ingest` like events; the module recognises it by `rejected: true`.
 */
export interface RejectedInput {
  rejected: true;
  /** Deterministic id (hash of connection, origin and bytes) so a resend is a duplicate. */
  id: string;
  /** Topic / node / metric the bytes came from. */
  source: string;
  connection: string;
  /** Raw payload, base64, at most MAX_EVENT_BYTES of it (`truncated` says when cut). */
  raw_b64: string;
  raw_size: number;
  truncated: boolean;
  reason: string;
  observedtime: string;
}

export type IngestItem = CloudEvent | RejectedInput;

export type IngestStatus = "applied" | "duplicate" | "pending" | "failed" | "rejected";

/** One per item sent to `ingest`, in the same order. Never None over RPC: `error` is "" when none. */
export interface IngestResult {
  id: string;
  source: string;
  status: IngestStatus;
  /** Database id of the shopfloor.event row (0 when none was written). */
  event_id: number;
  error: string;
}

/** `shopfloor.connection.sidecar_config(code)`. Optional blocks are `false` when not configured. */
export interface SidecarConfig {
  code: string;
  name: string;
  kind: "mqtt" | "sparkplug" | "opcua";
  revision: number;
  server_time: string;
  mqtt:
    | {
        url: string;
        topics: string[];
        client_id: string;
        protocol_version: 4 | 5;
        username: string;
        password: string;
        /** PEM text of the CA that signed the broker's certificate, or "" for the system store. */
        ca: string;
        /** Verify the broker's certificate (chain and host name); true unless an admin turned it off. */
        reject_unauthorized: boolean;
        /** PEM text of the sidecar's client certificate (mTLS), or "". An older Odoo omits it: read as "". */
        client_cert: string;
        /** PEM text of that certificate's private key, unencrypted, or "". Secret; omitted by an older Odoo. */
        client_key: string;
      }
    | false;
  sparkplug: { group_id: string; host_id: string } | false;
  opcua:
    | {
        endpoint: string;
        security_mode: "None" | "Sign" | "SignAndEncrypt";
        /** node-opcua SecurityPolicy names. */
        security_policy: "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss";
        auth: "anonymous" | "username" | "certificate";
        username: string;
        password: string;
        publishing_interval_ms: number;
        sampling_interval_ms: number;
      }
    | false;
  batch: { size: number; wait_ms: number };
  skew: { bound_ms: number; correct: boolean };
  /** Source/asset → workcenter: the sidecar orders delivery per workcenter and scopes raw data. */
  sources: { source: string; workcenter: string }[];
  /** OPC UA node / Sparkplug metric rules; see shopfloor.mapping.rule. */
  rules: MappingRule[];
  /** Planning push-back targets per workcenter (planning issue). */
  dispatch: { poll_interval_ms: number; targets: DispatchTarget[] };
}

export interface MappingRule {
  id: number;
  kind: "counter" | "state" | "trigger";
  /** OPC UA node id (`ns=2;s=[default]Line1/Press03/Good`) or Sparkplug metric (`group/edge/device/metric`). */
  address: string;
  protocol: "opcua" | "sparkplug";
  /** CloudEvent source the derived events carry. */
  source: string;
  /** counter: production.reported | scrap.reported; trigger: any event type; state: unused. */
  event_type: EventType | "";
  /** Kind-specific parameters (counter: wrap_at, window_ms, order_address; state: value_map, reason_address; trigger: fields). */
  params: Record<string, unknown>;
}

export interface DispatchTarget {
  workcenter: string;
  kind: "opcua" | "mqtt" | "sparkplug";
  params: Record<string, unknown>;
}

export interface HeartbeatReply {
  server_time: string;
  revision: number;
}
