// Writes a workcenter's queue to OPC UA tags (Ignition's OPC UA server or
// any other): one node per slot field, a JSON node with the whole queue and
// a version node, written last so a reader that watches it sees a complete
// queue. Every write is checked per node (status code) and read back.
//
// Target params (module: shopfloor.dispatch.target):
//   endpoint    opc.tcp URL; "" uses the connection's endpoint
//   slots       [{order, product, qty, priority, start}] node ids per slot ("" = not mapped)
//   queue_json  node id of the JSON tag ("" = none)
//   version     node id holding the version written ("" = none)
//
// Security comes from the connection's opcua block (mode, policy, login), as
// for the OPC UA source, with the same PKI folder: an unknown server
// certificate is refused and stored in rejected/ until an admin trusts it.
// Such refusals (and a refused login or a bad setting) fail the message
// without a retry, with a message saying what to fix; after fixing it the
// message is retried from Odoo.
import {
  AttributeIds,
  type ClientSession,
  DataType,
  type DataValue,
  type NodeId,
  type OPCUACertificateManager,
  OPCUAClient,
  type StatusCode,
  StatusCodes,
  VariantArrayType,
  type WriteValueOptions,
} from "node-opcua";
import type { DispatchMessage, FloorWriter } from "../core/ports.ts";
import { certificateManager } from "../sources/opcua/pki.ts";
import { namespaceTable, resolveAddress } from "../sources/opcua/resolve-node.ts";
import {
  explainOpcUaError,
  NO_SECURITY,
  needsAdmin,
  type OpcUaSecurity,
  type OpcuaBlock,
  opcuaClientOptions,
  opcuaEndpointProblem,
  opcuaSecurityFromConfig,
  userIdentity,
} from "../sources/opcua/security.ts";
import { type NodeValue, nodeValue, plainValue, sameValue } from "../sources/opcua/values.ts";
import { FloorWriteError } from "./errors.ts";
import {
  parseQueuePayload,
  type QueuePayload,
  queueDocument,
  SLOT_FIELDS,
  slotValues,
  stringParam,
  versionKey,
} from "./queue.ts";
import type { VersionStore } from "./version-store.ts";

/** Statuses a retry of the same write cannot fix: the mapping or the server's rights must change. */
const PERMANENT_STATUSES = new Set([
  "BadNodeIdUnknown",
  "BadNodeIdInvalid",
  "BadUserAccessDenied",
  "BadNotWritable",
  "BadNotReadable",
  "BadTypeMismatch",
  "BadWriteNotSupported",
  "BadAttributeIdInvalid",
  "BadOutOfRange",
  "BadIndexRangeInvalid",
]);

export interface OpcuaWriterOptions {
  versions: VersionStore;
  /** Used when a target names no endpoint. */
  defaultEndpoint?: string;
  /** The connection's opcua block; none means no security and an anonymous login. */
  security?: OpcuaBlock;
  /** The sidecar's OPC UA PKI folder, shared with the OPC UA source. */
  pkiDir: string;
  /** Connect/request timeout; a dead server must fail fast so the dispatcher can back off. */
  timeoutMs?: number;
}

interface PlannedWrite {
  /** As the target's template wrote it (messages name it so). */
  nodeId: string;
  /** Read with the sources' strict grammar (resolve-node.ts), once the session is open. */
  node?: NodeId;
  value: unknown;
  /** Slot nodes first, then the JSON node, then the version node. */
  phase: 0 | 1 | 2;
}

interface Connection {
  client: OPCUAClient;
  session: ClientSession;
}

export class OpcuaFloorWriter implements FloorWriter {
  readonly kind = "opcua" as const;
  /** Writes that reached the floor (skipped stale versions do not count). */
  floorWrites = 0;
  private readonly options: OpcuaWriterOptions;
  private readonly connections = new Map<string, Promise<Connection>>();
  private certificates: Promise<OPCUACertificateManager> | undefined;
  private reloading: Promise<void> | undefined;
  /** Connections being opened: the trust list is re-read only when no other is verifying a server with it. */
  private opening = 0;

  constructor(options: OpcuaWriterOptions) {
    this.options = options;
  }

  async write(message: DispatchMessage): Promise<void> {
    const queue = parseQueuePayload(message);
    const params = message.target.params;
    const endpoint = stringParam(params, "endpoint", this.options.defaultEndpoint ?? "");
    if (!endpoint)
      throw new FloorWriteError("OPC UA target has no endpoint and the connection none", { retryable: false });
    const endpointProblem = opcuaEndpointProblem(endpoint);
    if (endpointProblem) throw new FloorWriteError(`OPC UA target: ${endpointProblem}`, { retryable: false });
    const key = versionKey("opcua", endpoint, message.workcenter);
    if (this.options.versions.isStale(key, message.version)) return;

    const plan = planWrites(params, queue);
    if (plan.length === 0) throw new FloorWriteError("OPC UA target maps no node", { retryable: false });
    const versionNode = stringParam(params, "version");

    const session = await this.session(endpoint);
    await resolvePlan(session, plan);
    try {
      const current = await session.read(plan.map((w) => ({ nodeId: w.node, attributeId: AttributeIds.Value })));
      const types = await this.dataTypes(session, plan, current);
      if (versionNode) {
        // The floor's own version wins over our file (another sidecar, a lost spool dir).
        const index = plan.findIndex((w) => w.nodeId === versionNode);
        const held = current[index]?.value;
        const floorVersion = held ? Number(plainValue(held) ?? 0) : 0;
        if (Number.isFinite(floorVersion) && floorVersion >= message.version) {
          this.options.versions.record(key, floorVersion);
          return;
        }
      }
      // Every value must fit its node before the first write: a refused one leaves the floor as it was.
      const values = plan.map((w, i): NodeValue => {
        const held = current[i]?.value;
        if (held && held.arrayType !== VariantArrayType.Scalar) return { refused: "the node holds an array" };
        return nodeValue(w.value, types[i] as DataType);
      });
      const refused = values.flatMap((v, i) =>
        "refused" in v ? [`${(plan[i] as PlannedWrite).nodeId}: ${v.refused}`] : [],
      );
      if (refused.length) {
        throw new FloorWriteError(`BadTypeMismatch (cannot write ${refused.join("; ")})`, { retryable: false });
      }
      const fitting = values as Exclude<NodeValue, { refused: string }>[];
      for (const phase of [0, 1, 2] as const) {
        const batch = plan.map((w, i) => ({ w, i })).filter(({ w }) => w.phase === phase);
        if (batch.length === 0) continue;
        const nodesToWrite: WriteValueOptions[] = batch.map(({ w, i }) => ({
          nodeId: w.node,
          attributeId: AttributeIds.Value,
          value: {
            value: { dataType: types[i] as DataType, arrayType: VariantArrayType.Scalar, value: fitting[i]?.value },
          },
        }));
        const statuses = await session.write(nodesToWrite);
        checkStatuses(
          "write",
          batch.map(({ w }) => w.nodeId),
          statuses,
        );
      }
      const readBack = await session.read(plan.map((w) => ({ nodeId: w.node, attributeId: AttributeIds.Value })));
      const mismatches: string[] = [];
      plan.forEach((w, i) => {
        const got = readBack[i];
        checkStatuses("read-back", [w.nodeId], [got?.statusCode ?? StatusCodes.Bad]);
        const want = fitting[i]?.plain;
        const gotPlain = got?.value ? plainValue(got.value) : undefined;
        if (!sameValue(want, gotPlain)) mismatches.push(`${w.nodeId} = ${String(gotPlain)} (wrote ${String(want)})`);
      });
      if (mismatches.length) {
        throw new FloorWriteError(`read-back mismatch: ${mismatches.join("; ")}`, { retryable: true });
      }
    } catch (err) {
      if (!(err instanceof FloorWriteError) || err.retryable) await this.drop(endpoint);
      if (err instanceof FloorWriteError) throw err;
      throw new FloorWriteError(`OPC UA ${endpoint}: ${(err as Error).message}`, { retryable: true, cause: err });
    }
    this.floorWrites++;
    this.options.versions.record(key, message.version);
  }

  /** The variant type of each node: from its current value, else from its DataType attribute. */
  private async dataTypes(session: ClientSession, plan: PlannedWrite[], current: DataValue[]): Promise<DataType[]> {
    checkStatuses(
      "read",
      plan.map((w) => w.nodeId),
      current.map((dv) => dv.statusCode),
    );
    const types = current.map((dv) => dv.value?.dataType ?? DataType.Null);
    const unknown = types.map((t, i) => (t === DataType.Null ? i : -1)).filter((i) => i >= 0);
    if (unknown.length) {
      const declared = await session.read(
        unknown.map((i) => ({ nodeId: (plan[i] as PlannedWrite).node, attributeId: AttributeIds.DataType })),
      );
      unknown.forEach((i, j) => {
        const nodeId = declared[j]?.value?.value as { namespace?: number; value?: unknown } | undefined;
        const builtin = nodeId?.namespace === 0 && typeof nodeId.value === "number" && nodeId.value <= 25;
        // An enumeration or structure with no value yet: not a type the writer can pick a value for.
        types[i] = builtin ? (nodeId.value as DataType) : DataType.Null;
      });
    }
    return types;
  }

  private session(endpoint: string): Promise<Connection["session"]> {
    let connection = this.connections.get(endpoint);
    if (!connection) {
      connection = this.connect(endpoint);
      this.connections.set(endpoint, connection);
      connection.catch(() => this.connections.delete(endpoint));
    }
    return connection.then((c) => c.session);
  }

  /**
   * The PKI folder's store, read again before a connection so a certificate
   * trusted meanwhile counts — but not while another connection is being
   * opened: a reload empties the store's lists before it scans the folders.
   */
  private async certificateStore(): Promise<OPCUACertificateManager> {
    if (!this.certificates) {
      const cm = certificateManager(this.options.pkiDir);
      this.certificates = cm.initialize().then(() => cm);
      this.certificates.catch(() => {
        this.certificates = undefined;
      });
    }
    const cm = await this.certificates;
    if (!this.reloading && this.opening === 1) {
      this.reloading = cm.reloadCertificates().finally(() => {
        this.reloading = undefined;
      });
    }
    await this.reloading;
    return cm;
  }

  private async connect(endpoint: string): Promise<Connection> {
    this.opening++;
    try {
      return await this.open(endpoint);
    } finally {
      this.opening--;
    }
  }

  private async open(endpoint: string): Promise<Connection> {
    const timeout = this.options.timeoutMs ?? 5_000;
    const { pkiDir } = this.options;
    let security: OpcUaSecurity = NO_SECURITY;
    const fail = (err: unknown) => {
      const explained = explainOpcUaError(err as Error, { endpoint, pkiDir, ...security });
      // Trust, login and settings need a person; the message says what to do, and Odoo's Retry sends it again.
      if (needsAdmin(explained)) {
        return new FloorWriteError(
          `OPC UA ${endpoint}: ${explained.message.replace(/\.?$/, ".")} Then retry the message.`,
          {
            retryable: false,
            cause: err,
          },
        );
      }
      return new FloorWriteError(`OPC UA ${endpoint}: cannot connect (${explained.message})`, {
        retryable: true,
        cause: err,
      });
    };
    let client: OPCUAClient;
    try {
      if (this.options.security) security = opcuaSecurityFromConfig(this.options.security, pkiDir);
      client = OPCUAClient.create({
        ...opcuaClientOptions(security, await this.certificateStore()),
        endpointMustExist: false,
        // One attempt: the dispatcher owns retries and reports them to Odoo.
        connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 500 },
        requestedSessionTimeout: 60_000,
        defaultTransactionTimeout: timeout,
        keepSessionAlive: true,
      });
    } catch (err) {
      throw fail(err);
    }
    try {
      await withTimeout(client.connect(endpoint), timeout, "connect");
    } catch (err) {
      await client.disconnect().catch(() => {});
      throw fail(err);
    }
    client.on("connection_lost", () => void this.drop(endpoint));
    client.on("close", () => this.connections.delete(endpoint));
    try {
      const session = await withTimeout(client.createSession(userIdentity(security.auth)), timeout, "create session");
      return { client, session };
    } catch (err) {
      await client.disconnect().catch(() => {});
      throw fail(err);
    }
  }

  private async drop(endpoint: string): Promise<void> {
    const connection = this.connections.get(endpoint);
    this.connections.delete(endpoint);
    if (!connection) return;
    try {
      const { client, session } = await connection;
      await session.close().catch(() => {});
      await client.disconnect().catch(() => {});
    } catch {
      // never connected: nothing to close
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.keys()].map((endpoint) => this.drop(endpoint)));
    const certificates = this.certificates;
    this.certificates = undefined;
    await certificates?.then((cm) => cm.dispose()).catch(() => {});
  }
}

/**
 * Reads every node id of the plan as the sources do (node-opcua's own reader
 * misreads some: node-id.ts); the server's namespace table when one names
 * its namespace by URI. A node id that is none fails the write, not retried:
 * the target's templates need fixing in Odoo.
 */
async function resolvePlan(session: ClientSession, plan: PlannedWrite[]): Promise<void> {
  const namespaces = await namespaceTable(
    session,
    plan.map((w) => w.nodeId),
  );
  for (const w of plan) {
    const resolved = resolveAddress(w.nodeId, namespaces);
    if (!resolved.ok) throw new FloorWriteError(`OPC UA target: ${resolved.problem}`, { retryable: false });
    w.node = resolved.nodeId;
  }
}

function planWrites(params: Record<string, unknown>, payload: QueuePayload): PlannedWrite[] {
  const plan: PlannedWrite[] = [];
  const slots = Array.isArray(params.slots) ? params.slots : [];
  const values = slotValues(payload);
  slots.forEach((raw, slot) => {
    const nodes = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const value = values[slot];
    if (!value) return;
    for (const field of SLOT_FIELDS) {
      const nodeId = stringParam(nodes, field);
      if (nodeId) plan.push({ nodeId, value: value[field], phase: 0 });
    }
  });
  const json = stringParam(params, "queue_json");
  if (json) plan.push({ nodeId: json, value: queueDocument(payload), phase: 1 });
  const version = stringParam(params, "version");
  if (version) plan.push({ nodeId: version, value: payload.version, phase: 2 });
  return plan;
}

/** Writes must be Good; a read before writing only must not be Bad (a never-written tag is Uncertain). */
function checkStatuses(step: string, nodeIds: string[], statuses: StatusCode[]): void {
  const strict = step !== "read";
  const bad = statuses
    .map((status, i) => ({ status, nodeId: nodeIds[i] }))
    .filter(({ status }) => (strict ? !status.isGood() : status.isBad()));
  if (bad.length === 0) return;
  const names = [...new Set(bad.map(({ status }) => status.name))];
  const detail = bad.map(({ status, nodeId }) => `${nodeId}: ${status.name}`).join("; ");
  throw new FloorWriteError(`${names.join(", ")} (${step} ${detail})`, {
    retryable: !names.some((name) => PERMANENT_STATUSES.has(name)),
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
