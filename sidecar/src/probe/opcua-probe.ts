// Browse and read-once on the connection's OPC UA server, for the tag picker
// in Odoo. Uses the OPC UA source's session while it is live (no second
// login on a server that counts sessions); otherwise a session of its own
// with the connection's security settings, kept for a short while since an
// admin browses in bursts (one click per level).
import {
  AttributeIds,
  BrowseDirection,
  type BrowseResult,
  type ClientSession,
  type DataValue,
  NodeClass,
  type NodeId,
  ObjectIds,
  type OPCUACertificateManager,
  OPCUAClient,
  ReferenceTypeIds,
  resolveNodeId,
  type StatusCode,
} from "node-opcua";
import type { ProbeErrorCode } from "../core/ports.ts";
import { readNodeId } from "../sources/opcua/node-id.ts";
import { certificateManager } from "../sources/opcua/pki.ts";
import { namespaceTable, resolveAddress } from "../sources/opcua/resolve-node.ts";
import { explainOpcUaError, type OpcUaSecurity, opcuaClientOptions, userIdentity } from "../sources/opcua/security.ts";
import { plainValue } from "../sources/opcua/source.ts";
import { ProbeError, type ProbeHandler } from "./prober.ts";

/** Children listed per browse; the rest is cut and `truncated` says so. */
export const MAX_CHILDREN = 1_000;
/** Array values are shown up to this many items. */
export const MAX_ARRAY_ITEMS = 100;
const CURRENT_WRITE = 0x02;

export interface OpcuaNodeInfo {
  node_id: string;
  browse_name: string;
  display_name: string;
  node_class: string;
  /** Variables: the data type's name (Double, String, a structure's name…), its node id when it has none. */
  data_type?: string;
  value?: unknown;
  /** Variables: the value's status code name (Good, BadWaitingForInitialData…). */
  status?: string;
  source_time?: string;
  writable?: boolean;
  /** Objects and views have children to browse; a variable may have properties. */
  expandable: boolean;
}

export interface OpcuaBrowseAnswer {
  node: OpcuaNodeInfo;
  children: OpcuaNodeInfo[];
  truncated: boolean;
  session: "source" | "own";
}

export interface OpcuaProbeOptions {
  endpoint: string;
  security: OpcUaSecurity;
  pkiDir: string;
  /** The OPC UA source's session while it is live. */
  liveSession?: () => ClientSession | undefined;
  /** Connect + session, and each request. */
  timeoutMs?: number;
  /** An own session unused this long is closed. */
  idleCloseMs?: number;
}

/** A value as JSON can carry it and a person can read it: 64-bit integers and non-finite numbers as text, bytes as base64. */
export function jsonValue(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) return { base64: value.toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>)
      .slice(0, MAX_ARRAY_ITEMS)
      .map((item) => jsonValue(item, depth + 1));
  }
  if (Array.isArray(value)) return value.slice(0, MAX_ARRAY_ITEMS).map((item) => jsonValue(item, depth + 1));
  if (depth > 4) return "…";
  const object = value as Record<string, unknown>;
  // LocalizedText: its text is what a person reads.
  if (typeof object.text === "string" && "locale" in object) return object.text;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    // node-opcua's classes (NodeId, QualifiedName, structures) say themselves through toJSON or toString.
    try {
      if (typeof object.toJSON === "function") return jsonValue((object.toJSON as () => unknown)(), depth + 1);
      if (typeof object.toString === "function") return String((object.toString as () => unknown)());
    } catch {
      return "…";
    }
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, jsonValue(item, depth + 1)]));
}

/**
 * A node id the admin typed: empty is the Objects folder; a bad one is `bad_address`. `namespaces`
 * is the server's namespace table, for an address that names its namespace by URI (nsu=).
 */
export function parseNodeId(target: string, namespaces?: readonly string[]): NodeId {
  const text = target.trim();
  if (!text) return resolveNodeId(ObjectIds.ObjectsFolder);
  // Read as the source reads a rule's address (resolve-node.ts): what browses here is what a rule monitors.
  const resolved = resolveAddress(text, namespaces);
  if (resolved.ok) return resolved.nodeId;
  throw new ProbeError("bad_address", `${resolved.problem}; e.g. ns=2;s=[default]Line1/Press01/GoodCount or ns=0;i=85`);
}

/** Throws `bad_address` for what is no node id at all, before any session is opened. */
function checkNodeIdSyntax(target: string): void {
  const text = target.trim();
  const reading = text ? readNodeId(text) : undefined;
  if (reading && !reading.ok) parseNodeId(text);
}

/** `target` as a node of the server `session` talks to: an nsu= address through its namespace table. */
async function nodeIdIn(session: ClientSession, target: string): Promise<NodeId> {
  return parseNodeId(target, await namespaceTable(session, [target.trim()]));
}

/** A status the server answered for one node, as the form shows it. */
export function statusError(target: string, status: StatusCode): ProbeError {
  const name = status.name;
  let code: ProbeErrorCode = "failed";
  let why = status.description || name;
  if (/^Bad(NodeIdUnknown|NodeIdInvalid|NoMatch|NodeClassInvalid)/.test(name)) {
    code = "unknown_node";
    why = "the server has no such node";
  } else if (/^Bad(UserAccessDenied|NotReadable|SecurityModeInsufficient)/.test(name)) {
    code = "access_denied";
    why = "the sidecar's OPC UA user may not read it";
  }
  return new ProbeError(code, `${target || "Objects"}: ${why} (${name})`);
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeError("timeout", `${what}: no answer within ${ms / 1000} s`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

const VARIABLE_ATTRIBUTES = [AttributeIds.DataType, AttributeIds.Value, AttributeIds.UserAccessLevel] as const;

export class OpcuaProbe implements ProbeHandler {
  readonly #opts: OpcuaProbeOptions;
  #own: Promise<{ client: OPCUAClient; session: ClientSession }> | undefined;
  #cm: OPCUACertificateManager | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #typeNames = new Map<string, string>();
  /** Sessions opened by the probe itself (tests and the dashboard read it). */
  ownSessions = 0;

  constructor(opts: OpcuaProbeOptions) {
    this.#opts = opts;
  }

  get #timeoutMs(): number {
    return this.#opts.timeoutMs ?? 8_000;
  }

  async browse(target: string): Promise<OpcuaBrowseAnswer> {
    // A malformed address is said before any session is opened; an nsu= one is resolved in it.
    checkNodeIdSyntax(target);
    return this.#withSession(async (session, which) => {
      const nodeId = await nodeIdIn(session, target);
      const node = await this.#describe(session, target, nodeId);
      const first = await withTimeout(
        session.browse({
          nodeId,
          referenceTypeId: ReferenceTypeIds.HierarchicalReferences,
          includeSubtypes: true,
          browseDirection: BrowseDirection.Forward,
          nodeClassMask: 0,
          resultMask: 0x3f,
        }),
        this.#timeoutMs,
        "browse",
      );
      if (first.statusCode.isNotGood()) throw statusError(target, first.statusCode);
      const references = [...(first.references ?? [])];
      let result: BrowseResult = first;
      while (result.continuationPoint?.length && references.length < MAX_CHILDREN) {
        result = await withTimeout(session.browseNext(result.continuationPoint, false), this.#timeoutMs, "browse");
        if (result.statusCode.isNotGood()) break;
        references.push(...(result.references ?? []));
      }
      const truncated = references.length > MAX_CHILDREN || Boolean(result.continuationPoint?.length);
      if (result.continuationPoint?.length) {
        await session.browseNext(result.continuationPoint, true).catch(() => {});
      }
      const kept = references.slice(0, MAX_CHILDREN);
      const children: OpcuaNodeInfo[] = kept.map((reference) => ({
        node_id: reference.nodeId.toString(),
        browse_name: reference.browseName.toString(),
        display_name: reference.displayName.text ?? reference.browseName.name ?? "",
        node_class: NodeClass[reference.nodeClass] ?? String(reference.nodeClass),
        expandable: reference.nodeClass !== NodeClass.Variable,
      }));
      const variables = children.filter((child) => child.node_class === "Variable");
      await this.#fillVariables(session, variables);
      return { node, children, truncated, session: which };
    });
  }

  async read(target: string): Promise<OpcuaNodeInfo> {
    checkNodeIdSyntax(target);
    return this.#withSession(async (session) => this.#describe(session, target, await nodeIdIn(session, target)));
  }

  /** The node itself: names and class, and for a variable its type, value, status and writability. */
  async #describe(session: ClientSession, target: string, nodeId: NodeId): Promise<OpcuaNodeInfo> {
    const [nodeClass, browseName, displayName] = await withTimeout(
      session.read([
        { nodeId, attributeId: AttributeIds.NodeClass },
        { nodeId, attributeId: AttributeIds.BrowseName },
        { nodeId, attributeId: AttributeIds.DisplayName },
      ]),
      this.#timeoutMs,
      "read",
    );
    if (!nodeClass || nodeClass.statusCode.isNotGood()) {
      throw statusError(target, (nodeClass as DataValue).statusCode);
    }
    const className = NodeClass[nodeClass.value.value as number] ?? String(nodeClass.value.value);
    const info: OpcuaNodeInfo = {
      node_id: nodeId.toString(),
      browse_name: String(browseName?.value.value?.toString() ?? ""),
      display_name: String(displayName?.value.value?.text ?? ""),
      node_class: className,
      expandable: className !== "Variable",
    };
    if (className === "Variable") await this.#fillVariables(session, [info]);
    return info;
  }

  /** Data type, value, status and writability of each variable, in one read (and one for unknown type names). */
  async #fillVariables(session: ClientSession, variables: OpcuaNodeInfo[]): Promise<void> {
    if (variables.length === 0) return;
    const values = await withTimeout(
      session.read(
        variables.flatMap((variable) =>
          VARIABLE_ATTRIBUTES.map((attributeId) => ({ nodeId: variable.node_id, attributeId })),
        ),
      ),
      this.#timeoutMs,
      "read",
    );
    const typeIds: (NodeId | undefined)[] = [];
    variables.forEach((variable, index) => {
      const [dataType, value, access] = values.slice(index * 3, index * 3 + 3) as [DataValue, DataValue, DataValue];
      const typeId = dataType.statusCode.isGood() ? (dataType.value.value as NodeId) : undefined;
      typeIds.push(typeId);
      variable.status = value.statusCode.name;
      variable.value = value.statusCode.isGood() ? jsonValue(plainValue(value.value)) : null;
      const time = value.sourceTimestamp ?? value.serverTimestamp;
      if (time) variable.source_time = time.toISOString();
      variable.writable = access.statusCode.isGood() && ((access.value.value as number) & CURRENT_WRITE) !== 0;
    });
    await this.#typeNamesOf(session, typeIds);
    variables.forEach((variable, index) => {
      const typeId = typeIds[index];
      variable.data_type = typeId ? (this.#typeNames.get(typeId.toString()) ?? typeId.toString()) : "";
    });
  }

  /** Data types are named by their node's browse name (Double, UtcTime, a vendor's structure), cached. */
  async #typeNamesOf(session: ClientSession, typeIds: (NodeId | undefined)[]): Promise<void> {
    const unknown = [...new Set(typeIds.filter((id): id is NodeId => !!id).map((id) => id.toString()))].filter(
      (id) => !this.#typeNames.has(id),
    );
    if (unknown.length === 0) return;
    const names = await withTimeout(
      session.read(unknown.map((nodeId) => ({ nodeId, attributeId: AttributeIds.BrowseName }))),
      this.#timeoutMs,
      "read",
    );
    unknown.forEach((id, index) => {
      const name = names[index];
      if (name?.statusCode.isGood()) this.#typeNames.set(id, String(name.value.value?.name ?? id));
    });
  }

  /**
   * Runs `work` on the source's live session, or on an own one. A session
   * that breaks under the work (the source reconnecting) is tried once more
   * on an own session; a status the server answered is final.
   */
  async #withSession<T>(work: (session: ClientSession, which: "source" | "own") => Promise<T>): Promise<T> {
    const live = this.#opts.liveSession?.();
    if (live) {
      try {
        return await work(live, "source");
      } catch (err) {
        if (err instanceof ProbeError) throw err;
      }
    }
    const own = await this.#ownSession();
    try {
      return await work(own, "own");
    } catch (err) {
      if (err instanceof ProbeError) throw err;
      await this.#dropOwn();
      throw new ProbeError("unreachable", `OPC UA ${this.#opts.endpoint}: ${(err as Error).message}`);
    } finally {
      this.#armIdleClose();
    }
  }

  async #ownSession(): Promise<ClientSession> {
    if (!this.#own) {
      this.#own = this.#open();
      this.#own.catch(() => {
        this.#own = undefined;
      });
    }
    return (await this.#own).session;
  }

  async #open(): Promise<{ client: OPCUAClient; session: ClientSession }> {
    const { endpoint, security, pkiDir } = this.#opts;
    const fail = (err: unknown) => {
      if (err instanceof ProbeError) return err;
      const explained = explainOpcUaError(err as Error, { endpoint, pkiDir, ...security });
      return new ProbeError("unreachable", `OPC UA ${endpoint}: ${explained.message}`);
    };
    if (!this.#cm) {
      this.#cm = certificateManager(pkiDir);
      await this.#cm.initialize();
    }
    // A certificate an admin trusted since the last try counts now.
    await this.#cm.reloadCertificates();
    let client: OPCUAClient;
    try {
      client = OPCUAClient.create({
        ...opcuaClientOptions(security, this.#cm),
        endpointMustExist: false,
        connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 500 },
        requestedSessionTimeout: 60_000,
        defaultTransactionTimeout: this.#timeoutMs,
        keepSessionAlive: true,
      });
    } catch (err) {
      throw fail(err);
    }
    try {
      await withTimeout(client.connect(endpoint), this.#timeoutMs, `OPC UA ${endpoint}: connect`);
      client.on("connection_lost", () => void this.#dropOwn());
      const session = await withTimeout(
        client.createSession(userIdentity(security.auth)),
        this.#timeoutMs,
        `OPC UA ${endpoint}: create session`,
      );
      this.ownSessions++;
      return { client, session };
    } catch (err) {
      await client.disconnect().catch(() => {});
      throw fail(err);
    }
  }

  #armIdleClose(): void {
    clearTimeout(this.#idleTimer);
    if (!this.#own) return;
    this.#idleTimer = setTimeout(() => void this.#dropOwn(), this.#opts.idleCloseMs ?? 60_000);
    this.#idleTimer.unref();
  }

  async #dropOwn(): Promise<void> {
    const own = this.#own;
    this.#own = undefined;
    clearTimeout(this.#idleTimer);
    if (!own) return;
    try {
      const { client, session } = await own;
      await withTimeout(session.close(), 2_000, "close").catch(() => {});
      await withTimeout(client.disconnect(), 2_000, "disconnect").catch(() => {});
    } catch {
      // never opened: nothing to close
    }
  }

  async close(): Promise<void> {
    await this.#dropOwn();
    await this.#cm?.dispose();
    this.#cm = undefined;
  }
}
