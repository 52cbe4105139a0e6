// What the sidecar hands node-opcua for an address an admin typed: read with
// node-id.ts's strict grammar, then built as a NodeId, never re-read by
// node-opcua's own coerceNodeId (see node-id.ts). `nsu=` addresses are looked
// up in the server's namespace table, so a rule keeps its node when the
// server renumbers its namespaces; bare names are node-opcua's table of the
// standard nodes of namespace 0.
import { type ClientSession, NodeId, NodeIdType, resolveNodeId } from "node-opcua";
import { NODE_ID_EXAMPLE, readNodeId } from "./node-id.ts";

const KIND_TYPES = { i: NodeIdType.NUMERIC, s: NodeIdType.STRING, g: NodeIdType.GUID, b: NodeIdType.BYTESTRING };

export type ResolvedNode = { ok: true; nodeId: NodeId } | { ok: false; problem: string };

/**
 * `address` as a node-opcua NodeId; `namespaces` is the server's namespace
 * table (its index 0 the OPC UA namespace), needed for `nsu=` addresses.
 */
export function resolveAddress(address: string, namespaces?: readonly string[]): ResolvedNode {
  const reading = readNodeId(address);
  if (!reading.ok) return { ok: false, problem: `${JSON.stringify(address)} ${reading.problem}` };
  if ("name" in reading) {
    try {
      return { ok: true, nodeId: resolveNodeId(reading.name) };
    } catch {
      return {
        ok: false,
        problem:
          `${JSON.stringify(address)} is neither a node id nor the name of a standard OPC UA node ` +
          `(namespace 0): write ns=<index>;s=<name>, e.g. ${NODE_ID_EXAMPLE}`,
      };
    }
  }
  const { node } = reading;
  let namespace = node.namespace ?? 0;
  if (node.namespaceUri !== undefined) {
    const index = namespaces?.indexOf(node.namespaceUri) ?? -1;
    if (index < 0) {
      return {
        ok: false,
        problem: namespaces
          ? `${JSON.stringify(address)}: the server has no namespace ${JSON.stringify(node.namespaceUri)} ` +
            `(its namespaces: ${namespaces.map((uri, i) => `${i} ${uri}`).join(", ")})`
          : `${JSON.stringify(address)}: the server's namespace table (NamespaceArray) could not be read to find its nsu=`,
      };
    }
    namespace = index;
  }
  const value =
    node.kind === "i"
      ? Number(node.identifier)
      : node.kind === "b"
        ? Buffer.from(node.identifier, "base64")
        : node.identifier;
  return { ok: true, nodeId: new NodeId(KIND_TYPES[node.kind], value, namespace) };
}

/**
 * The server's namespace table (NamespaceArray) when one of `addresses` names its namespace by URI
 * (nsu=); undefined when none does, or when the server does not give it (those addresses then
 * resolve to a problem saying so).
 */
export async function namespaceTable(
  session: ClientSession,
  addresses: readonly string[],
): Promise<string[] | undefined> {
  if (!addresses.some((address) => address.startsWith("nsu="))) return undefined;
  return session.readNamespaceArray().catch(() => undefined);
}
