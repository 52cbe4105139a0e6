// The seams of the sidecar: every I/O edge sits behind one of
// these, and each has one contract test that all implementations run.
import type { CloudEvent, HeartbeatReply, IngestItem, IngestResult, SidecarConfig } from "./contract.ts";

/**
 * What a source hands over: a derived event, bytes still to validate, or
 * bytes the source already found invalid, with the reason (stored in Odoo as
 * rejected with the bytes; the reason is the one a person reads there).
 */
export type Intake =
  | { kind: "event"; event: CloudEvent }
  | { kind: "raw"; payload: Uint8Array; origin: string; receivedAt: Date; via?: IntakeVia }
  | { kind: "rejected"; payload: Uint8Array; origin: string; receivedAt: Date; reason: string };

/**
 * Where raw bytes came in, for payload mappings: the transport and the topic
 * or route (`origin` repeats it), and the headers an HTTP producer sent
 * (lower-case names) or an MQTT 5 publisher's user properties.
 */
export interface IntakeVia {
  /** amqp/kafka/redis headers: AMQP message headers, Kafka record headers, the Redis entry's other fields. */
  transport: "mqtt" | "http" | "amqp" | "kafka" | "redis" | "file" | "sql";
  headers?: Record<string, string>;
  /**
   * Where in its origin the payload was, said first in the reason when it is
   * rejected: a CSV row's `file export.csv line 12`, a polled row's watermark.
   */
  at?: string;
}

/**
 * What became of each item of one `accept`, in the same order: the events it
 * became (a mapped payload may become several, or none) or the reason it was
 * stored as rejected. The HTTP intake answers its producer from it.
 */
export interface AcceptReport {
  items: ({ status: "events"; count: number } | { status: "rejected"; reason: string })[];
  /** Items the spool already held under the same (source, id). */
  duplicates: number;
}

/**
 * The pipeline as a source sees it. `accept` resolves only once the items
 * (and the rule state that produced them) are committed to the spool; a
 * source acknowledges upstream (MQTT PUBACK, OPC UA counter position) only
 * after that. When the spool is full `accept` waits: that is backpressure.
 */
export interface SourceSink {
  /** Resolves after the commit; a sink that tracks outcomes reports them (the pipeline does). */
  accept(items: Intake[], state?: Record<string, unknown>): Promise<AcceptReport | undefined>;
  /** Rule state persisted by earlier `accept` calls (last counter values, open states). */
  loadState(prefix: string): Promise<Record<string, unknown>>;
}

export interface Source {
  readonly name: string;
  start(sink: SourceSink): Promise<void>;
  /** Stops taking input; in-flight accepts are awaited. */
  stop(): Promise<void>;
  stats(): Record<string, number>;
}

/** Odoo behind an interface: JSON-RPC for Odoo 18, JSON-2 for Odoo 19 and later (odoo/connect.ts). */
export interface OdooClient {
  ingest(items: IngestItem[]): Promise<IngestResult[]>;
  sidecarConfig(code: string): Promise<SidecarConfig>;
  heartbeat(code: string, stats: Record<string, unknown>): Promise<HeartbeatReply>;
  dispatchPull(code: string, limit: number): Promise<DispatchMessage[]>;
  dispatchAck(results: DispatchAck[]): Promise<boolean>;
  /** Browse / read-once requests an admin made in Odoo for this connection (probe/README.md). */
  probePull(code: string, limit: number): Promise<ProbePull>;
  probeAnswer(answers: ProbeAnswer[]): Promise<boolean>;
}

/** One question from Odoo: the children of an OPC UA node (`target` empty: the Objects folder), or one value read once. */
export interface ProbeRequest {
  id: number;
  op: "browse" | "read";
  target: string;
}

/** `poll_ms`: when to pull again; Odoo shortens it while someone is asking. */
export interface ProbePull {
  requests: ProbeRequest[];
  poll_ms: number;
}

/**
 * Why a probe failed, for the form: `unknown_node` (no such node / tag),
 * `bad_address` (the address does not parse), `access_denied`, `unreachable`
 * (server or PLC down, security refused), `timeout`, `unsupported` (this
 * sidecar cannot answer that here), `failed` (anything else).
 */
export type ProbeErrorCode =
  | "unknown_node"
  | "bad_address"
  | "access_denied"
  | "unreachable"
  | "timeout"
  | "unsupported"
  | "failed";

export type ProbeAnswer =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; code: ProbeErrorCode; error: string };

export interface DispatchMessage {
  id: number;
  workcenter: string;
  version: number;
  target: { kind: "opcua" | "mqtt" | "sparkplug"; params: Record<string, unknown> };
  payload: Record<string, unknown>;
}

export interface DispatchAck {
  id: number;
  status: "acked" | "failed";
  error: string;
}

/** Writes planning data to the floor (OPC UA tags, retained MQTT, Sparkplug metrics). */
export interface FloorWriter {
  readonly kind: "opcua" | "mqtt" | "sparkplug";
  /** Idempotent by version: an older version never overwrites a newer one. */
  write(message: DispatchMessage): Promise<void>;
  close(): Promise<void>;
}
