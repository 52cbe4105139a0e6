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
  "production.corrected",
  "scrap.reversed",
  "consumption.reversed",
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
 * Lot and serials an event may carry: of the finished product on
 * `workorder.completed` and `production.reported`, of the component on
 * `material.consumed`. The shared schema enforces the limits below; Odoo checks
 * the rest (one serial per unit, serials not used before, a lot of the right product).
 */
export interface TrackedData {
  /** A lot (or the lone serial of a serial-tracked unit). */
  lot?: string;
  /** One serial per unit: non-empty texts, no two alike, at most MAX_SERIALS_PER_EVENT of them. */
  serials?: string[];
}
/** Most serials one event carries (the schema's `maxItems`); more units go in several events. */
export const MAX_SERIALS_PER_EVENT = 10_000;
/** Longest serial, in Unicode code points (the schema's `maxLength` of an item). */
export const MAX_SERIAL_CHARS = 256;

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
  kind: "mqtt" | "sparkplug" | "opcua" | BackboneKind | PlcKind | HistorianKind;
  revision: number;
  server_time: string;
  mqtt:
    | {
        url: string;
        topics: string[];
        client_id: string;
        protocol_version: 4 | 5;
        /**
         * Seconds between MQTT pings when nothing else is sent (1 to 65535): a broker that
         * leaves one unanswered is taken for gone. An older Odoo omits it: 60.
         */
        keepalive_s?: number;
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
  sparkplug:
    | {
        group_id: string;
        host_id: string;
        /**
         * `primary`: publishes its STATE and asks for Rebirth on gaps (the
         * default; an older Odoo omits the key). `passive`: a secondary host
         * that only listens: no STATE, no Rebirth requests.
         */
        role?: "primary" | "passive";
      }
    | false;
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
  /**
   * The message queue a connection of kind amqp, kafka or redis consumes.
   * An older Odoo omits the key: read as false.
   */
  backbone?: BackboneConfig | false;
  /**
   * The PLC a connection of kind modbus, s7 or enip polls. An older Odoo
   * omits the key: read as false.
   */
  plc?: PlcConfig | false;
  /**
   * Historian import (issue 19): the drop folder a connection of kind
   * `folder` reads CSV exports from, or the query a connection of kind `sql`
   * polls. An older Odoo omits the keys: read as false.
   */
  folder?: FolderConfig | false;
  sql?: SqlConfig | false;
  /**
   * Delivery to Odoo. `partitions`: batches in flight at once, each carrying
   * whole work centers (an older Odoo omits it: read as 1). `catchup_backlog`:
   * queued events from which delivery runs in catch-up mode, with the largest
   * batches Odoo's time limits allow (`catchup_size`); 0 or omitted: never.
   * `send_at`: queued events that send a partial batch before `wait_ms` is
   * out (0, or omitted by an older Odoo: only a full batch does).
   */
  batch: {
    size: number;
    wait_ms: number;
    send_at?: number;
    partitions?: number;
    catchup_backlog?: number;
    catchup_size?: number;
  };
  skew: { bound_ms: number; correct: boolean };
  /** Source/asset → workcenter: the sidecar orders delivery per workcenter and scopes raw data. */
  sources: { source: string; workcenter: string }[];
  /** OPC UA node / Sparkplug metric / mapped-value rules; see shopfloor.mapping.rule. */
  rules: MappingRule[];
  /**
   * Payload mappings (shopfloor.payload.map), in the order they are tried:
   * the first whose transport and pattern match a payload takes it. An older
   * Odoo omits the key: read as [].
   */
  payload_maps?: PayloadMapping[];
  /** The HTTP intake of this sidecar, or false when the connection has none. An older Odoo omits it: read as false. */
  http?: HttpIntakeConfig | false;
  /** Planning push-back targets per workcenter (planning issue). */
  dispatch: { poll_interval_ms: number; targets: DispatchTarget[] };
}

export const BACKBONE_KINDS = ["amqp", "kafka", "redis"] as const;
/** Message queues a plant already runs: RabbitMQ (AMQP 0-9-1), Kafka, Redis Streams. */
export type BackboneKind = (typeof BACKBONE_KINDS)[number];

/**
 * A message-queue source. Each message is a CloudEvent (structured JSON, or
 * the transport's CloudEvents binary mode: AMQP application properties,
 * Kafka `ce_` headers) or a payload for the connection's payload mappings of
 * this transport. A message is acknowledged (basic.ack, offset commit, XACK)
 * only after what it became is committed to the spool.
 */
export interface BackboneConfig {
  /**
   * amqp: `amqp://host:5672/vhost` or `amqps://…`; kafka: the bootstrap
   * brokers, `host:9092,host2:9092` (TLS from `tls`); redis: `redis://host:6379/0`,
   * `rediss://…`, or `redis+sentinel://host1:26379,host2/<primary name>/<db>`.
   */
  url: string;
  /** What to consume: RabbitMQ queues, Kafka topics, Redis stream keys (one or more). */
  names: string[];
  /** Kafka consumer group, Redis consumer group; unused for amqp (""). */
  group: string;
  /** This sidecar's name in the group (Kafka client id, Redis consumer, AMQP consumer tag); "" derives one from the host name. */
  consumer: string;
  username: string;
  /** Secret. */
  password: string;
  /** TLS to the broker (implied by amqps:// and rediss://). */
  tls: boolean;
  /** PEM of the CA that signed the broker's certificate, or "" for the system store. */
  ca: string;
  /** Verify the broker's certificate (chain and host name). */
  reject_unauthorized: boolean;
  /** PEM client certificate and its unencrypted key (mutual TLS), or "". The key is secret. */
  client_cert: string;
  client_key: string;
  /**
   * Most messages taken and not yet acknowledged: the AMQP prefetch, the
   * COUNT of one Redis read, the most records of one Kafka batch. What the
   * spool has not committed is not taken: that is the backpressure.
   */
  prefetch: number;
  /** Kafka SASL mechanism, "" for none. */
  sasl_mechanism: "" | "plain" | "scram-sha-256" | "scram-sha-512";
  /**
   * redis: how long another consumer's entry may stay pending before this one
   * claims it (XAUTOCLAIM min-idle-time); kafka: the consumer group's session
   * timeout, after which a dead member's partitions are taken over. Ms.
   */
  claim_idle_ms: number;
}

export const PLC_KINDS = ["modbus", "s7", "enip"] as const;
/** PLCs read directly, where no MES or OPC UA server stands between: Modbus TCP, Siemens S7 (ISO-on-TCP), EtherNet/IP CIP (Allen-Bradley Logix). */
export type PlcKind = (typeof PLC_KINDS)[number];

/**
 * Kinds whose connections answer Odoo's tag picker (probe/start.ts): OPC UA
 * browses and reads, PLCs read once; other kinds have nothing to probe.
 * Here, apart from the prober, so that asking loads no OPC UA stack.
 */
export function isProbeable(kind: string): boolean {
  return kind === "opcua" || (PLC_KINDS as readonly string[]).includes(kind);
}

/**
 * One PLC, polled: every tag the connection's rules read (rules of protocol
 * `modbus`, `s7` or `enip`, `address` in that protocol's syntax, see
 * sources/plc/README.md) is read every `poll_interval_ms`, and each value
 * that changed (by more than the rule's `deadband` param, for numbers) is an
 * observation for the rule engines, as an OPC UA data change is.
 */
export interface PlcConfig {
  host: string;
  /** TCP port; 0 for the protocol's own (Modbus 502, S7 102, EtherNet/IP 44818). */
  port: number;
  /** modbus: the unit (slave) id, 0–255 (a gateway's device; most TCP devices answer 1, 0 or 255). */
  unit_id: number;
  /** s7: the CPU's rack (0). */
  rack: number;
  /** s7: the CPU's slot (S7-300: 2; S7-1200/1500: 1; S7-400: from the hardware config). enip: the Logix controller's slot in its chassis (usually 0). */
  slot: number;
  /** Time from the start of one read of every tag to the start of the next. */
  poll_interval_ms: number;
  /** How long one request may take before the PLC counts as unreachable (the source then reconnects with backoff). */
  timeout_ms: number;
}

// ---------------------------------------------------------------- historian import (issue 19)

export const HISTORIAN_KINDS = ["folder", "sql"] as const;
/** Historian and batch import: CSV exports dropped in a folder, or rows polled from a database. */
export type HistorianKind = (typeof HISTORIAN_KINDS)[number];
/** Payload-mapping transports of the historian sources: each CSV row (`file`), each polled row (`sql`). */
export type HistorianTransport = "file" | "sql";

export const CSV_ENCODINGS = ["utf-8", "windows-1252", "utf-16", "utf-16le", "utf-16be"] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];
export const CSV_DELIMITERS = ["auto", "comma", "semicolon", "tab", "pipe"] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

/**
 * A drop folder of CSV exports (sources/folder/README.md). A file whose name
 * matches `pattern` is taken once its size and modification time have not
 * changed for `settle_ms`; its rows become payloads of transport `file`;
 * then it is moved to `done/` (or, unreadable, to `failed/` with a reason
 * file). Nothing is deleted.
 */
export interface FolderConfig {
  /** Absolute path of the folder on the sidecar's machine. */
  path: string;
  /** File names taken: a glob of `*` and `?` (`*.csv`), matched case-insensitively. */
  pattern: string;
  /** The encoding the exports are written in; `utf-16` reads the byte order mark (little-endian without one). */
  encoding: CsvEncoding;
  /** Field delimiter; `auto` picks the one of `,` `;` tab `|` the header line has most of (outside quotes). */
  delimiter: CsvDelimiter;
  /** How long a file's size and modification time must stay unchanged before it is read. */
  settle_ms: number;
  /** How often the folder is listed. */
  poll_interval_ms: number;
}

export const SQL_DRIVERS = ["postgresql", "mariadb"] as const;
/** Databases the SQL source is tested against. SQL Server is not one yet (sources/sql/README.md). */
export type SqlDriver = (typeof SQL_DRIVERS)[number];

/**
 * A query polled with a persisted watermark (sources/sql/README.md): every
 * `interval_ms` the query runs with `:last` bound to the watermark; rows are
 * payloads of transport `sql`, and the watermark moves to the largest
 * `watermark_column` value taken, committed with the rows' events.
 */
export interface SqlConfig {
  driver: SqlDriver;
  host: string;
  /** 0 for the driver's own (PostgreSQL 5432, MariaDB 3306). */
  port: number;
  database: string;
  username: string;
  /** Secret. */
  password: string;
  /** A SELECT with `:last` where the watermark goes: `… WHERE DateTime >= :last ORDER BY DateTime`. */
  query: string;
  /** The column of each row that the watermark follows (rows come ordered by it). */
  watermark_column: string;
  /** The watermark before the first row (a timestamp or a number, as the column holds). */
  initial_watermark: string;
  interval_ms: number;
}

export interface MappingRule {
  id: number;
  kind: "counter" | "state" | "trigger";
  /** OPC UA node id (`ns=2;s=[default]Line1/Press03/Good`) or Sparkplug metric (`group/edge/device/metric`). */
  address: string;
  /**
   * Where the address comes from. `payload`: an address a `values` payload
   * mapping yields (a UNS topic, a Kepware tag id), for MQTT and HTTP alike.
   */
  protocol: "opcua" | "sparkplug" | "payload" | PlcKind;
  /** CloudEvent source the derived events carry. */
  source: string;
  /** counter: production.reported | scrap.reported; trigger: any event type; state: unused. */
  event_type: EventType | "";
  /**
   * Kind-specific parameters (counter: wrap_at, window_ms, order_address;
   * state: value_map, reason_address; trigger: fields), and for every kind
   * and protocol `scale` and `offset` (value × scale + offset, numbers only,
   * before the rule sees it) and `unit` (the floor unit the derived events
   * carry as `uom` when the rule sets none). Polled protocols (modbus, s7,
   * enip) also read `deadband`: a numeric value that moved less than this
   * (after scale and offset) since the last observation is not observed.
   */
  params: Record<string, unknown>;
}

/**
 * How a payload that is not a CloudEvent becomes events (shopfloor.payload.map).
 * The expression is JSONata over the parsed payload, with the bindings
 * `$topic` (MQTT topic or HTTP route), `$headers` (HTTP headers, lower-case;
 * MQTT 5 user properties; Kafka and AMQP headers, bytes that are not UTF-8
 * as `base64:` and their base64; Redis entry fields), `$receivedAt` (ISO time the sidecar received it)
 * and `$connection`.
 */
export interface PayloadMapping {
  id: number;
  /** Shown in reasons and logs. */
  name: string;
  /**
   * `events`: the expression yields one CloudEvent-shaped object or an array of
   * them (zero is allowed: the payload is then consumed, and counted).
   * `values`: it yields `{address, value, time?}` objects (one or an array),
   * observations fed to the rules of protocol `payload` like OPC UA values.
   */
  kind: "events" | "values";
  /** Which intake it applies to. */
  transport: "mqtt" | "http" | BackboneKind | HistorianTransport;
  /**
   * MQTT topic filter (`+`, `#`) for mqtt; the route name for http; the queue,
   * topic or stream name for amqp, kafka and redis (the same wildcards, `/`-separated);
   * the file name for file (`#` takes every file); `query` for sql.
   */
  match: string;
  expression: string;
  /**
   * `events` kind: dotted paths into each produced event (`source`, `type`,
   * `time`, `data.order`…) whose values, with the connection, make its
   * deterministic id when the expression gives none. Empty: the raw payload's
   * bytes and the event's position in the output make it.
   */
  id_fields: string[];
  /** `json`: the payload parsed as JSON; `text`: the payload as a string (a bare UNS value). */
  payload_format: "json" | "text";
  /** Mapping revision of the connection when this mapping last changed (audit in reasons). */
  revision: number;
}

/** The sidecar's HTTP intake (CloudEvents HTTP binding + mapped JSON routes). */
export interface HttpIntakeConfig {
  /** TCP port; HTTP_PORT in the environment overrides it. */
  port: number;
  /** Address to bind, "" for all. */
  bind: string;
  /** PEM certificate chain and key: HTTPS when both are set. */
  tls_cert: string;
  tls_key: string;
  /** Largest request body taken, bytes. */
  max_body_bytes: number;
  /** Producers allowed to post, each with the SHA-256 (hex) of its bearer token. */
  producers: HttpProducer[];
}

export interface HttpProducer {
  name: string;
  token_sha256: string;
  /** Sources its CloudEvents may carry (prefix, "" for any); a mapped route's events are checked too. */
  source_prefix: string;
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
