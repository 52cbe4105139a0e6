// The Sparkplug B host application's bookkeeping, without sockets: per edge
// node the bdSeq of its session, the next expected seq (0–255, wrapping),
// alias and datatype maps and Template definitions from NBIRTH/DBIRTH, and
// which devices are alive. It turns each message into metric observations
// (Template members and DataSet cells each under their own address) and says
// when a Rebirth must be asked for (a seq gap, an unknown alias, data from a
// node or device never born, a payload whose framing broke). Metrics that do
// not decode are reported one by one; the rest of their payload is used.
import { sparkplugIdProblem } from "../../core/mqtt-text.ts";
import type { Observation } from "../../rules/types.ts";
import {
  type DatatypeLookup,
  datatypeCode,
  decodePayload,
  type MetricValue,
  type SparkplugDataSet,
  type SparkplugMetric,
  type SparkplugPayload,
  type SparkplugTemplate,
} from "./payload.ts";

export const SPARKPLUG_NAMESPACE = "spBv1.0";
export const REBIRTH_METRIC = "Node Control/Rebirth";
export const TEMPLATE_DEFINITION_PREFIX = "_types_/";
/** The Quality property value that means good (OPC DA / Sparkplug convention); any other is not counted. */
export const QUALITY_GOOD = 192;

export type MessageType = "NBIRTH" | "NDEATH" | "NDATA" | "NCMD" | "DBIRTH" | "DDEATH" | "DDATA" | "DCMD";
const MESSAGE_TYPES = new Set<string>(["NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD"]);

export interface SparkplugTopic {
  group: string;
  type: MessageType;
  edge: string;
  device?: string;
}

export function parseTopic(topic: string): SparkplugTopic | undefined {
  const parts = topic.split("/");
  if (parts[0] !== SPARKPLUG_NAMESPACE || parts.length < 4 || parts.length > 5) return undefined;
  const [, group, type, edge, device] = parts as [string, string, string, string, string | undefined];
  if (!MESSAGE_TYPES.has(type) || !group || !edge) return undefined;
  const out: SparkplugTopic = { group, type: type as MessageType, edge };
  if (device !== undefined) {
    if (!device || !type.startsWith("D")) return undefined;
    out.device = device;
  } else if (type.startsWith("D")) {
    return undefined;
  }
  return out;
}

/** Rule address of a metric: `group/edge/device/metric`, device empty for node metrics. */
export function metricAddress(group: string, edge: string, device: string | undefined, metric: string): string {
  return `${group}/${edge}/${device ?? ""}/${metric}`;
}

/**
 * Why `address` is no Sparkplug B metric address a host of `group` reads (undefined when it is one):
 * `group/edge node/device/metric`, the device empty for an edge node's own metric, the metric name
 * the rest (it may hold "/"). The module refuses the same when a rule is saved
 * (topic_filter.sparkplug_address_error).
 */
export function sparkplugAddressProblem(address: string, group?: string): string | undefined {
  const [groupId, edge, device, ...rest] = address.split("/");
  const metric = rest.join("/");
  if (device === undefined || metric === "") {
    return (
      `${JSON.stringify(address)} is not a Sparkplug B metric address: write group/edge node/device/metric ` +
      "(e.g. Plant1/Line1-Edge/Press03/Count; the device empty for an edge node's own metric: Plant1/Line1-Edge//Count)"
    );
  }
  for (const [label, value] of [
    ["group id", groupId],
    ["edge node id", edge],
    ["device id", device],
  ] as const) {
    if (label === "device id" && value === "") continue;
    const problem = sparkplugIdProblem(value as string);
    if (problem) return `${JSON.stringify(address)}: its ${label} ${JSON.stringify(value)} ${problem}`;
  }
  if (group !== undefined && groupId !== group) {
    return `${JSON.stringify(address)} is a metric of group ${JSON.stringify(groupId)}, and this host reads group ${JSON.stringify(group)} only`;
  }
  return undefined;
}

/** A value as rules and events carry it: JSON-safe (bigint → decimal string, Date → ISO, bytes → base64). */
export function ruleValue(value: MetricValue): unknown {
  if (value === null || typeof value === "number" || typeof value === "boolean" || typeof value === "string") {
    return value;
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map((item) => ruleValue(item));
  if ("fileName" in value) return { fileName: value.fileName, bytes: Buffer.from(value.bytes).toString("base64") };
  if ("rows" in value)
    return { columns: value.columns, rows: value.rows.map((row) => row.map((cell) => ruleValue(cell))) };
  return null;
}

/** An observation a Sparkplug metric yields; transient ones must not feed counters. */
export interface SparkplugObservation extends Observation {
  transient?: boolean;
}

/** A metric that did not decode, to be shown (reason and bytes) rather than lost. */
export interface UndecodedMetric {
  reason: string;
  bytes: Uint8Array;
}

interface TypeMap {
  byName: Map<string, number>;
  byAlias: Map<number, number>;
}

interface DeviceState {
  online: boolean;
  aliases: Map<number, string>;
  types: TypeMap;
  reported: Set<string>;
}

interface EdgeNodeState {
  online: boolean;
  bdSeq: number | null;
  /** null: never born in this host's lifetime (or dead): no seq to check against. */
  expectedSeq: number | null;
  aliases: Map<number, string>;
  types: TypeMap;
  templates: Map<string, SparkplugTemplate>;
  devices: Map<string, DeviceState>;
  /** When Rebirths were asked in the last REBIRTH_WINDOW_MS: each one doubles the hold before the next. */
  rebirthRequests: number[];
  /** Undecodable metrics already reported in this session (reported once, then counted). */
  reported: Set<string>;
}

export interface HostOutcome {
  observations: SparkplugObservation[];
  /** Historical values (is_historical), with their own timestamps: kept apart, never fed to rules as current. */
  historical: SparkplugObservation[];
  /** Metrics (or the tail of a payload) that did not decode, first occurrence per session. */
  undecoded: UndecodedMetric[];
  /** Edge node (`group/edge`) to send an NCMD Rebirth to. */
  rebirth?: { group: string; edge: string; reason: string };
  /** Why the message was not (fully) usable, for the log. */
  problem?: string;
  /** Nothing of the payload decoded: the raw bytes must be shown, not dropped. */
  malformed?: boolean;
}

export interface HostStats {
  messages: number;
  metrics: number;
  births: number;
  deaths: number;
  stale_deaths: number;
  seq_gaps: number;
  unknown_aliases: number;
  unborn_data: number;
  rebirths_requested: number;
  /** Passive host: Rebirths it would have asked for, left to the primary host. */
  rebirths_left_to_primary: number;
  malformed: number;
  undecodable_metrics: number;
  broken_payloads: number;
  historical_metrics: number;
  null_values: number;
  bad_quality: number;
  undefined_templates: number;
}

export interface HostOptions {
  /** After asking a node for a Rebirth, wait that long before asking again (doubling with each ask in ten minutes). */
  rebirthHoldMs?: number;
  /** `false` for a passive (secondary) host: it follows births and seq and reports gaps, but never asks. */
  requestRebirths?: boolean;
}

/** Rebirths asked within this window make the next one wait longer; the hold never exceeds it. */
const REBIRTH_WINDOW_MS = 10 * 60_000;

function emptyTypes(): TypeMap {
  return { byName: new Map(), byAlias: new Map() };
}

export class SparkplugHostState {
  readonly #group: string;
  readonly #rebirthHoldMs: number;
  readonly #requestRebirths: boolean;
  readonly #nodes = new Map<string, EdgeNodeState>();
  readonly stats: HostStats = {
    messages: 0,
    metrics: 0,
    births: 0,
    deaths: 0,
    stale_deaths: 0,
    seq_gaps: 0,
    unknown_aliases: 0,
    unborn_data: 0,
    rebirths_requested: 0,
    rebirths_left_to_primary: 0,
    malformed: 0,
    undecodable_metrics: 0,
    broken_payloads: 0,
    historical_metrics: 0,
    null_values: 0,
    bad_quality: 0,
    undefined_templates: 0,
  };

  /** `options` as a number: the Rebirth hold time (ms), for a primary host. */
  constructor(group: string, options: HostOptions | number = {}) {
    const opts = typeof options === "number" ? { rebirthHoldMs: options } : options;
    this.#group = group;
    this.#rebirthHoldMs = opts.rebirthHoldMs ?? 5_000;
    this.#requestRebirths = opts.requestRebirths ?? true;
  }

  node(edge: string): Readonly<EdgeNodeState> | undefined {
    return this.#nodes.get(edge);
  }

  handle(topic: SparkplugTopic, bytes: Uint8Array, receivedAt: Date): HostOutcome {
    this.stats.messages++;
    const out: HostOutcome = { observations: [], historical: [], undecoded: [] };
    if (topic.type === "NCMD" || topic.type === "DCMD") return out;
    const payload = decodePayload(bytes, this.#lookup(topic));
    if (payload.broken && payload.metrics.length === 0 && payload.problems.length === 0 && payload.seq === undefined) {
      this.stats.malformed++;
      out.malformed = true;
      out.problem = `not a Sparkplug B payload: ${payload.broken.reason}`;
      // The payload is lost for us; if it carried data, only a Rebirth brings the values back.
      if (topic.type !== "NDEATH" && this.#nodes.get(topic.edge)?.online) {
        this.#askRebirth(topic, `undecodable ${topic.type}`, out, receivedAt);
        out.problem = `not a Sparkplug B payload: ${payload.broken.reason} (undecodable ${topic.type})`;
      }
      return out;
    }
    switch (topic.type) {
      case "NBIRTH":
        this.#nodeBirth(topic, payload, out, receivedAt);
        break;
      case "NDEATH":
        this.#nodeDeath(topic, payload, out);
        break;
      default:
        this.#sequenced(topic, payload, out, receivedAt);
    }
    this.#undecoded(topic, payload, out, receivedAt);
    return out;
  }

  /** Datatypes of the metrics the BIRTH of this node or device declared, for DATA that leaves them out. */
  #lookup(topic: SparkplugTopic): DatatypeLookup | undefined {
    if (topic.type === "NBIRTH" || topic.type === "DBIRTH") return undefined;
    const node = this.#nodes.get(topic.edge);
    const types = topic.device ? node?.devices.get(topic.device)?.types : node?.types;
    if (!types) return undefined;
    return (name, alias) =>
      (name !== undefined ? types.byName.get(name) : undefined) ??
      (alias !== undefined ? types.byAlias.get(alias) : undefined);
  }

  #nodeBirth(topic: SparkplugTopic, payload: SparkplugPayload, out: HostOutcome, receivedAt: Date): void {
    this.stats.births++;
    const previous = this.#nodes.get(topic.edge);
    const bdSeq = payload.metrics.find((m) => m.name === "bdSeq");
    const templates = new Map<string, SparkplugTemplate>();
    for (const m of payload.metrics) {
      if (m.name?.startsWith(TEMPLATE_DEFINITION_PREFIX) && m.type === "Template" && m.value !== null) {
        templates.set(m.name.slice(TEMPLATE_DEFINITION_PREFIX.length), m.value as SparkplugTemplate);
      }
    }
    const node: EdgeNodeState = {
      online: true,
      bdSeq: typeof bdSeq?.value === "number" ? bdSeq.value : null,
      expectedSeq: payload.seq === undefined ? null : (payload.seq + 1) % 256,
      aliases: aliasMap(payload.metrics),
      types: typeMap(payload.metrics),
      templates,
      devices: new Map(),
      // Kept across BIRTHs: an edge whose BIRTHs do not cure what makes us ask must not be asked ever faster.
      rebirthRequests: previous?.rebirthRequests ?? [],
      reported: new Set(),
    };
    this.#nodes.set(topic.edge, node);
    this.#observe(topic, payload, node.aliases, node, out, receivedAt);
  }

  #nodeDeath(topic: SparkplugTopic, payload: SparkplugPayload, out: HostOutcome): void {
    const node = this.#nodes.get(topic.edge);
    const bdSeq = payload.metrics.find((m) => m.name === "bdSeq")?.value;
    // A will from an older session may arrive after the node was born again.
    if (!node || (node.bdSeq !== null && typeof bdSeq === "number" && bdSeq !== node.bdSeq)) {
      this.stats.stale_deaths++;
      out.problem = `stale NDEATH from ${topic.edge} (bdSeq ${String(bdSeq)})`;
      return;
    }
    this.stats.deaths++;
    node.online = false;
    node.expectedSeq = null;
    for (const device of node.devices.values()) device.online = false;
  }

  #sequenced(topic: SparkplugTopic, payload: SparkplugPayload, out: HostOutcome, receivedAt: Date): void {
    const node = this.#nodes.get(topic.edge);
    if (!node?.online) {
      this.stats.unborn_data++;
      this.#askRebirth(topic, `${topic.type} from ${topic.edge} before its NBIRTH`, out, receivedAt);
      return;
    }
    if (payload.seq === undefined) {
      out.problem = `${topic.type} from ${topic.edge} without seq`;
    } else if (node.expectedSeq !== null && payload.seq !== node.expectedSeq) {
      this.stats.seq_gaps++;
      this.#askRebirth(
        topic,
        `seq gap from ${topic.edge}: expected ${node.expectedSeq}, got ${payload.seq}`,
        out,
        receivedAt,
      );
    }
    if (payload.seq !== undefined) node.expectedSeq = (payload.seq + 1) % 256;

    if (topic.type === "DBIRTH") {
      this.stats.births++;
      const device: DeviceState = {
        online: true,
        aliases: aliasMap(payload.metrics),
        types: typeMap(payload.metrics),
        reported: new Set(),
      };
      node.devices.set(topic.device as string, device);
      this.#observe(topic, payload, device.aliases, node, out, receivedAt);
      return;
    }
    if (topic.type === "DDEATH") {
      this.stats.deaths++;
      const device = node.devices.get(topic.device as string);
      if (device) device.online = false;
      return;
    }
    let aliases = node.aliases;
    if (topic.type === "DDATA") {
      const device = node.devices.get(topic.device as string);
      if (!device?.online) {
        this.stats.unborn_data++;
        this.#askRebirth(topic, `DDATA from ${topic.edge}/${topic.device} before its DBIRTH`, out, receivedAt);
        return;
      }
      aliases = device.aliases;
    }
    const unknown = [
      ...payload.metrics.filter((m) => m.name === undefined && !aliases.has(m.alias ?? -1)).map((m) => m.alias),
      ...payload.problems.filter((p) => p.name === undefined && !aliases.has(p.alias ?? -1)).map((p) => p.alias),
    ];
    if (unknown.length > 0) {
      this.stats.unknown_aliases += unknown.length;
      this.#askRebirth(
        topic,
        `unknown alias ${unknown.join(",")} from ${topic.edge}${topic.device ? `/${topic.device}` : ""}`,
        out,
        receivedAt,
      );
    }
    this.#observe(topic, payload, aliases, node, out, receivedAt);
  }

  /**
   * Undecodable metrics: reported with their bytes the first time per session
   * (the edge sends the same metric the same way until it is fixed), counted
   * every time. They never ask for a Rebirth: the BIRTH would carry them the
   * same way. A payload whose framing broke lost everything after the break:
   * from a live node that is worth a Rebirth (within the Rebirth hold).
   */
  #undecoded(topic: SparkplugTopic, payload: SparkplugPayload, out: HostOutcome, receivedAt: Date): void {
    const node = this.#nodes.get(topic.edge);
    const scope = topic.device ? node?.devices.get(topic.device) : node;
    const where = `${topic.type} ${topic.edge}${topic.device ? `/${topic.device}` : ""}`;
    for (const problem of payload.problems) {
      this.stats.undecodable_metrics++;
      const label = problem.name ?? (problem.alias !== undefined ? `alias ${problem.alias}` : `#${problem.index}`);
      const key = `${label}\u0000${problem.reason}`;
      if (scope?.reported.has(key)) continue;
      scope?.reported.add(key);
      out.undecoded.push({
        reason: `metric ${label} (position ${problem.index}) of ${where} does not decode: ${problem.reason}`,
        bytes: problem.bytes,
      });
    }
    if (payload.broken) {
      this.stats.broken_payloads++;
      const reason = `${where} breaks at byte ${payload.broken.offset}: ${payload.broken.reason}; the metrics before it are used`;
      out.undecoded.push({ reason, bytes: payload.broken.bytes });
      if (topic.type !== "NDEATH" && node?.online) this.#askRebirth(topic, reason, out, receivedAt);
      else out.problem = reason;
    }
    if (!out.problem && out.undecoded.length > 0) {
      out.problem = `${out.undecoded.length} undecodable metric(s) in ${where}: ${out.undecoded.map((u) => u.reason).join("; ")}`;
    }
  }

  #askRebirth(topic: SparkplugTopic, reason: string, out: HostOutcome, receivedAt: Date): void {
    out.problem = reason;
    if (!this.#requestRebirths) {
      this.stats.rebirths_left_to_primary++;
      out.problem = `${reason} (passive host: waiting for the next BIRTH)`;
      return;
    }
    let node = this.#nodes.get(topic.edge);
    if (!node) {
      node = {
        online: false,
        bdSeq: null,
        expectedSeq: null,
        aliases: new Map(),
        types: emptyTypes(),
        templates: new Map(),
        devices: new Map(),
        rebirthRequests: [],
        reported: new Set(),
      };
      this.#nodes.set(topic.edge, node);
    }
    const now = receivedAt.getTime();
    const recent = node.rebirthRequests.filter((at) => now - at < REBIRTH_WINDOW_MS);
    node.rebirthRequests = recent;
    const last = recent.at(-1);
    const hold = Math.min(REBIRTH_WINDOW_MS, this.#rebirthHoldMs * 2 ** Math.max(0, recent.length - 1));
    if (last !== undefined && now - last < hold) return;
    recent.push(now);
    this.stats.rebirths_requested++;
    out.rebirth = { group: topic.group, edge: topic.edge, reason };
  }

  #observe(
    topic: SparkplugTopic,
    payload: SparkplugPayload,
    aliases: Map<number, string>,
    node: EdgeNodeState,
    out: HostOutcome,
    receivedAt: Date,
  ): void {
    const fallbackMs = payload.timestamp ?? receivedAt.getTime();
    for (const metric of payload.metrics) {
      const name = metric.name ?? (metric.alias !== undefined ? aliases.get(metric.alias) : undefined);
      if (name === undefined || name === "bdSeq" || name.startsWith("Node Control/")) continue;
      if (name.startsWith(TEMPLATE_DEFINITION_PREFIX)) continue;
      this.#leaves(topic, name, metric, metric.timestamp ?? fallbackMs, node, out, receivedAt);
    }
  }

  /** One metric into observations: Template members and DataSet cells each under their own path. */
  #leaves(
    topic: SparkplugTopic,
    name: string,
    metric: SparkplugMetric,
    ms: number,
    node: EdgeNodeState,
    out: HostOutcome,
    receivedAt: Date,
  ): void {
    const quality = metric.properties?.Quality?.value;
    if (typeof quality === "number" && quality !== QUALITY_GOOD) {
      this.stats.bad_quality++;
      return;
    }
    if (metric.value === null) {
      this.stats.null_values++;
      return;
    }
    if (metric.type === "Template") {
      const template = metric.value as SparkplugTemplate;
      if (template.isDefinition) return;
      if (template.templateRef && !node.templates.has(template.templateRef)) {
        this.stats.undefined_templates++;
        out.problem ??= `${name} is an instance of ${template.templateRef}, which no _types_/ definition of ${topic.edge} declares`;
      }
      for (const member of template.metrics) {
        if (member.name === undefined) continue;
        const inherited = { ...member };
        if (metric.isHistorical) inherited.isHistorical = true;
        if (metric.isTransient) inherited.isTransient = true;
        this.#leaves(topic, `${name}/${member.name}`, inherited, member.timestamp ?? ms, node, out, receivedAt);
      }
      return;
    }
    if (metric.type === "DataSet") {
      const dataSet = metric.value as SparkplugDataSet;
      dataSet.rows.forEach((row, r) => {
        row.forEach((cell, c) => {
          if (cell === null) return;
          this.#push(topic, `${name}/${r}/${dataSet.columns[c]}`, ruleValue(cell), metric, ms, out, receivedAt);
        });
      });
      return;
    }
    this.#push(topic, name, ruleValue(metric.value), metric, ms, out, receivedAt);
  }

  #push(
    topic: SparkplugTopic,
    name: string,
    value: unknown,
    metric: SparkplugMetric,
    ms: number,
    out: HostOutcome,
    receivedAt: Date,
  ): void {
    const observation: SparkplugObservation = {
      address: metricAddress(this.#group, topic.edge, topic.device, name),
      value,
      sourceTime: new Date(ms),
      receivedAt,
    };
    if (metric.isHistorical) {
      // A late copy with its own time: kept apart, the rules follow the live value.
      this.stats.historical_metrics++;
      out.historical.push(observation);
      return;
    }
    if (metric.isTransient) observation.transient = true;
    this.stats.metrics++;
    out.observations.push(observation);
  }
}

function aliasMap(metrics: SparkplugMetric[]): Map<number, string> {
  const map = new Map<number, string>();
  for (const m of metrics) if (m.alias !== undefined && m.name !== undefined) map.set(m.alias, m.name);
  return map;
}

function typeMap(metrics: SparkplugMetric[]): TypeMap {
  const types = emptyTypes();
  for (const m of metrics) {
    const code = datatypeCode(m.type) as number;
    if (m.name !== undefined) types.byName.set(m.name, code);
    if (m.alias !== undefined) types.byAlias.set(m.alias, code);
  }
  return types;
}
