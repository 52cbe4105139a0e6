// The Sparkplug B host application's bookkeeping, without sockets: per edge
// node the bdSeq of its session, the next expected seq (0–255, wrapping),
// alias maps from NBIRTH/DBIRTH, and which devices are alive. It turns each
// message into metric observations and says when a Rebirth must be asked for
// (a seq gap, an unknown alias, data from a node or device never born).
import type { Observation } from "../../rules/types.ts";
import { decodeSparkplug, type SparkplugMetric, type SparkplugPayload } from "./payload.ts";

export const SPARKPLUG_NAMESPACE = "spBv1.0";
export const REBIRTH_METRIC = "Node Control/Rebirth";

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

interface DeviceState {
  online: boolean;
  aliases: Map<number, string>;
}

interface EdgeNodeState {
  online: boolean;
  bdSeq: number | null;
  /** null: never born in this host's lifetime (or dead): no seq to check against. */
  expectedSeq: number | null;
  aliases: Map<number, string>;
  devices: Map<string, DeviceState>;
  rebirthRequestedAt: number | null;
}

export interface HostOutcome {
  observations: Observation[];
  /** Edge node (`group/edge`) to send an NCMD Rebirth to. */
  rebirth?: { group: string; edge: string; reason: string };
  /** Why the message was not (fully) usable, for the log. */
  problem?: string;
  /** The payload did not decode: the raw bytes must be shown, not dropped. */
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
  malformed: number;
}

export class SparkplugHostState {
  readonly #group: string;
  readonly #rebirthHoldMs: number;
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
    malformed: 0,
  };

  /** `rebirthHoldMs`: after asking a node for a Rebirth, wait that long for its NBIRTH before asking again. */
  constructor(group: string, rebirthHoldMs = 5_000) {
    this.#group = group;
    this.#rebirthHoldMs = rebirthHoldMs;
  }

  node(edge: string): Readonly<EdgeNodeState> | undefined {
    return this.#nodes.get(edge);
  }

  handle(topic: SparkplugTopic, bytes: Uint8Array, receivedAt: Date): HostOutcome {
    this.stats.messages++;
    if (topic.type === "NCMD" || topic.type === "DCMD") return { observations: [] };
    let payload: SparkplugPayload;
    try {
      payload = decodeSparkplug(bytes);
    } catch (err) {
      this.stats.malformed++;
      const out: HostOutcome = { observations: [], malformed: true, problem: (err as Error).message };
      // The payload is lost for us; if it carried data, only a Rebirth brings the values back.
      if (topic.type !== "NDEATH" && this.#nodes.get(topic.edge)?.online) {
        this.#askRebirth(topic, `undecodable ${topic.type}`, out, receivedAt);
        out.problem = `${(err as Error).message} (undecodable ${topic.type}, Rebirth asked)`;
      }
      return out;
    }
    switch (topic.type) {
      case "NBIRTH":
        return this.#nodeBirth(topic, payload, receivedAt);
      case "NDEATH":
        return this.#nodeDeath(topic, payload);
      default:
        return this.#sequenced(topic, payload, receivedAt);
    }
  }

  #nodeBirth(topic: SparkplugTopic, payload: SparkplugPayload, receivedAt: Date): HostOutcome {
    this.stats.births++;
    const bdSeq = payload.metrics.find((m) => m.name === "bdSeq");
    const node: EdgeNodeState = {
      online: true,
      bdSeq: typeof bdSeq?.value === "number" ? bdSeq.value : null,
      expectedSeq: payload.seq === undefined ? null : (payload.seq + 1) % 256,
      aliases: aliasMap(payload.metrics),
      devices: new Map(),
      rebirthRequestedAt: null,
    };
    this.#nodes.set(topic.edge, node);
    return { observations: this.#observe(topic, payload, node.aliases, receivedAt) };
  }

  #nodeDeath(topic: SparkplugTopic, payload: SparkplugPayload): HostOutcome {
    const node = this.#nodes.get(topic.edge);
    const bdSeq = payload.metrics.find((m) => m.name === "bdSeq")?.value;
    // A will from an older session may arrive after the node was born again.
    if (!node || (node.bdSeq !== null && typeof bdSeq === "number" && bdSeq !== node.bdSeq)) {
      this.stats.stale_deaths++;
      return { observations: [], problem: `stale NDEATH from ${topic.edge} (bdSeq ${String(bdSeq)})` };
    }
    this.stats.deaths++;
    node.online = false;
    node.expectedSeq = null;
    for (const device of node.devices.values()) device.online = false;
    return { observations: [] };
  }

  #sequenced(topic: SparkplugTopic, payload: SparkplugPayload, receivedAt: Date): HostOutcome {
    const node = this.#nodes.get(topic.edge);
    const out: HostOutcome = { observations: [] };
    if (!node?.online) {
      this.stats.unborn_data++;
      this.#askRebirth(topic, `${topic.type} from ${topic.edge} before its NBIRTH`, out, receivedAt);
      return out;
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
      const device = { online: true, aliases: aliasMap(payload.metrics) };
      node.devices.set(topic.device as string, device);
      out.observations = this.#observe(topic, payload, device.aliases, receivedAt);
      return out;
    }
    if (topic.type === "DDEATH") {
      this.stats.deaths++;
      const device = node.devices.get(topic.device as string);
      if (device) device.online = false;
      return out;
    }
    let aliases = node.aliases;
    if (topic.type === "DDATA") {
      const device = node.devices.get(topic.device as string);
      if (!device?.online) {
        this.stats.unborn_data++;
        this.#askRebirth(topic, `DDATA from ${topic.edge}/${topic.device} before its DBIRTH`, out, receivedAt);
        return out;
      }
      aliases = device.aliases;
    }
    const unknown = payload.metrics.filter((m) => m.name === undefined && !aliases.has(m.alias ?? -1));
    if (unknown.length > 0) {
      this.stats.unknown_aliases += unknown.length;
      this.#askRebirth(
        topic,
        `unknown alias ${unknown.map((m) => m.alias).join(",")} from ${topic.edge}${topic.device ? `/${topic.device}` : ""}`,
        out,
        receivedAt,
      );
    }
    out.observations = this.#observe(topic, payload, aliases, receivedAt);
    return out;
  }

  #askRebirth(topic: SparkplugTopic, reason: string, out: HostOutcome, receivedAt: Date): void {
    out.problem = reason;
    let node = this.#nodes.get(topic.edge);
    if (!node) {
      node = {
        online: false,
        bdSeq: null,
        expectedSeq: null,
        aliases: new Map(),
        devices: new Map(),
        rebirthRequestedAt: null,
      };
      this.#nodes.set(topic.edge, node);
    }
    const now = receivedAt.getTime();
    if (node.rebirthRequestedAt !== null && now - node.rebirthRequestedAt < this.#rebirthHoldMs) return;
    node.rebirthRequestedAt = now;
    this.stats.rebirths_requested++;
    out.rebirth = { group: topic.group, edge: topic.edge, reason };
  }

  #observe(
    topic: SparkplugTopic,
    payload: SparkplugPayload,
    aliases: Map<number, string>,
    receivedAt: Date,
  ): Observation[] {
    const observations: Observation[] = [];
    for (const metric of payload.metrics) {
      const name = metric.name ?? (metric.alias !== undefined ? aliases.get(metric.alias) : undefined);
      if (name === undefined || name === "bdSeq" || name.startsWith("Node Control/")) continue;
      // Historical metrics are late copies; the rules want the live value.
      if (metric.isHistorical) continue;
      this.stats.metrics++;
      const ms = metric.timestamp ?? payload.timestamp ?? receivedAt.getTime();
      observations.push({
        address: metricAddress(this.#group, topic.edge, topic.device, name),
        value: metric.value,
        sourceTime: new Date(ms),
        receivedAt,
      });
    }
    return observations;
  }
}

function aliasMap(metrics: SparkplugMetric[]): Map<number, string> {
  const map = new Map<number, string>();
  for (const m of metrics) if (m.alias !== undefined && m.name !== undefined) map.set(m.alias, m.name);
  return map;
}
