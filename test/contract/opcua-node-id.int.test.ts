// OPC UA node ids as text, over strings fast-check makes of the grammar's
// pieces and of what an admin mistypes: the module's check
// (odoo_addon/shopfloor_bridge/opcua_node.py, run when a rule is saved) and
// the sidecar's reader (sidecar/src/sources/opcua/node-id.ts, what the
// source monitors) must give the same verdict and the same node; and every
// node id they accept must be the node two independent readers make of it:
// asyncua's NodeId.from_string (FreeOpcUa, Python) and node-opcua's
// coerceNodeId. Where a reader departs from the string form of OPC 10000-6
// on a node id we accept, the test names the case (and the sidecar does not
// use that reader for it): asyncua reads b=0x… as hexadecimal, node-opcua
// finds "ns=<n>;i=<n>" anywhere in the text.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { coerceNodeId } from "node-opcua";
import { describe, expect, it } from "vitest";
import { peerPython } from "../../sidecar/devstack/python-peers.ts";
import { type ParsedNodeId, readNodeId } from "../../sidecar/src/sources/opcua/node-id.ts";
import { resolveAddress } from "../../sidecar/src/sources/opcua/resolve-node.ts";
import { opcuaEndpointProblem } from "../../sidecar/src/sources/opcua/security.ts";

const MODULE_DIR = join(import.meta.dirname, "../../odoo_addon/shopfloor_bridge");
// opcua_node.py imports nothing of Odoo: loaded by path. asyncua is the peers' (.venv-peers).
const PYTHON_BATCH = `
import base64, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("opcua_node", sys.argv[1] + "/opcua_node.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
from asyncua import ua
out = []
for text in json.load(sys.stdin):
    node, name, problem = mod.read_node_id(text)
    try:
        theirs = ua.NodeId.from_string(text)
        ident = theirs.Identifier
        kind = {ua.NodeIdType.Numeric: "i", ua.NodeIdType.String: "s", ua.NodeIdType.Guid: "g",
                ua.NodeIdType.ByteString: "b"}.get(theirs.NodeIdType, "i")
        if kind == "g":
            ident = str(ident).upper()
        elif kind == "b":
            ident = base64.b64encode(ident).decode()
        else:
            ident = str(ident)
        asyncua = [theirs.NamespaceIndex, getattr(theirs, "NamespaceUri", None), kind, ident]
    except Exception as err:  # noqa: BLE001 - any refusal is a refusal
        asyncua = None
    out.append({"node": node, "name": name, "problem": problem, "asyncua": asyncua})
json.dump(out, sys.stdout, ensure_ascii=True)
`;

interface PythonVerdict {
  node: { namespace?: number; namespace_uri?: string; kind: string; identifier: string } | null;
  name: string | null;
  problem: string | null;
  /** [namespace index, namespace URI, kind, identifier (GUID upper case, ByteString base64)] or null: refused. */
  asyncua: [number, string | null, string, string] | null;
}

function pythonVerdicts(texts: string[]): PythonVerdict[] {
  const run = spawnSync(peerPython(), ["-c", PYTHON_BATCH, MODULE_DIR], {
    input: JSON.stringify(texts),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as PythonVerdict[];
}

function asPython(node: ParsedNodeId): PythonVerdict["node"] {
  return node.namespaceUri === undefined
    ? { namespace: node.namespace as number, kind: node.kind, identifier: node.identifier }
    : { namespace_uri: node.namespaceUri, kind: node.kind, identifier: node.identifier };
}

const number = fc.oneof(
  fc.constantFrom("0", "00", "7", "65535", "65536", "4294967295", "4294967296", "99999999999999999999"),
  fc.constantFrom("12abc", "-1", "+1", " 1", "1 ", "1_0", "\u0661", "0x10", "", "1.5", "1e3"),
  fc.stringMatching(/^[0-9]{1,11}$/),
);
const guid = fc.oneof(
  fc.uuid().map((u) => u),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.constantFrom("{72962B91-FA75-4AE6-8D28-B404DC7DAF63}", "72962B91FA754AE68D28B404DC7DAF63", "72962B91-FA75"),
);
const base64 = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b).toString("base64")),
  fc.constantFrom("AQID", "AQI=", "AQ==", "AQ=", "A", "0x0102", "0x12", "AQ ID", "AQ==AQ==", "-_-_", ""),
);
const stringId = fc.oneof(
  fc.constantFrom("Line1/Press03/Good", "[default]Bay 2.Count", "a;b", "a=b", "ns=1;i=5", "x;ns=3;i=4", "é", "😀"),
  fc.constantFrom("tab\there", "nl\n", "nel\u0085x", "del\u007f", " lead", "trail ", "", "\ud800", "a\udc00b"),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 6 }),
);
const identifier = fc.oneof(
  number.map((n) => `i=${n}`),
  stringId.map((s) => `s=${s}`),
  guid.map((g) => `g=${g}`),
  base64.map((b) => `b=${b}`),
  fc.constantFrom("x=1", "I=5", "S=a", "=5", "i", "s", "i5", "", "ns=2", "nsu=urn:a;s=b"),
);
const prefix = fc.oneof(
  fc.constant(""),
  number.map((n) => `ns=${n};`),
  fc.constantFrom("urn:plant:line1", "http://opcfoundation.org/UA/", "", "a=b", "urn:x\u0001").map((u) => `nsu=${u};`),
  fc.constantFrom("ns=2", "nsu=urn:x", "NS=2;", "ns =2;", "srv=1;", ";", "junk ns=3;"),
);
const nodeText = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(prefix, identifier).map(([p, i]) => p + i) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("Server_ServerStatus_CurrentTime", "ObjectsFolder", "Counter", "_x", "1abc"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** node-opcua's patterns are unanchored: "ns=<n>;i=<n>" anywhere in a string identifier is read as the node. */
const NODE_OPCUA_MISREADS = /.ns=[0-9]+;i=[0-9]+/s;

describe("OPC UA node ids: the module, the sidecar, asyncua and node-opcua read them alike", () => {
  it("the module and the sidecar give the same verdict and the same node, and asyncua agrees on every node id accepted", () => {
    const texts = fc.sample(nodeText, { numRuns: 4_000, seed: 4242 });
    texts.push(...fc.sample(nodeText, 2_000));
    const verdicts = pythonVerdicts(texts);
    let accepted = 0;
    let asyncuaHex = 0;
    texts.forEach((text, k) => {
      const ours = readNodeId(text);
      const py = verdicts[k] as PythonVerdict;
      const where = JSON.stringify(text);
      if (!ours.ok) {
        expect(py.problem, where).toBe(ours.problem);
        return;
      }
      if ("name" in ours) {
        expect(py.name, where).toBe(ours.name);
        return;
      }
      accepted++;
      expect(py.node, where).toEqual(asPython(ours.node));
      const { node } = ours;
      if (node.kind === "b" && node.identifier.startsWith("0x")) {
        // asyncua's own extension: b=0x… is hexadecimal to it, base64 to the specification (and to us).
        asyncuaHex++;
        return;
      }
      // asyncua keeps an nsu= URI beside index 0, and hands a numeric identifier back as a number.
      expect(py.asyncua, where).toEqual([
        node.namespace ?? 0,
        node.namespaceUri ?? null,
        node.kind,
        node.kind === "b" ? Buffer.from(node.identifier, "base64").toString("base64") : node.identifier,
      ]);
    });
    // The generator reaches every kind of node id, not only refusals.
    expect(accepted).toBeGreaterThan(texts.length / 10);
    expect(asyncuaHex).toBeGreaterThan(0);
  });

  it("node-opcua's coerceNodeId makes the same node of every node id accepted, except what its unanchored patterns misread", () => {
    const namespaces = ["http://opcfoundation.org/UA/", "urn:plant:line1", "urn:x"];
    let misread = 0;
    for (const text of fc.sample(nodeText, { numRuns: 4_000, seed: 77 })) {
      const ours = readNodeId(text);
      if (!ours.ok || "name" in ours) continue;
      const resolved = resolveAddress(text, namespaces);
      if (ours.node.namespaceUri !== undefined && !namespaces.includes(ours.node.namespaceUri)) {
        expect(resolved.ok, text).toBe(false);
        continue;
      }
      expect(resolved.ok, text).toBe(true);
      const mine = (resolved as { ok: true; nodeId: { toString(): string } }).nodeId.toString();
      let theirs: string;
      try {
        theirs = coerceNodeId(text, { namespaceArray: namespaces }).toString();
      } catch {
        theirs = "(refused)";
      }
      if (NODE_OPCUA_MISREADS.test(text) && theirs !== mine) {
        misread++;
        continue;
      }
      expect(theirs, JSON.stringify(text)).toBe(mine);
    }
    expect(misread).toBeGreaterThan(0);
  });

  it("regression: what node-opcua's own reader gets wrong, the sidecar reads as written", () => {
    for (const [text, node] of [
      ["ns=2;s=Bay;ns=1;i=5", "ns=2;s=Bay;ns=1;i=5"],
      ["ns=2;s=x;ns=3;i=4", "ns=2;s=x;ns=3;i=4"],
    ] as const) {
      expect(coerceNodeId(text).toString()).not.toBe(node);
      const resolved = resolveAddress(text);
      expect(resolved.ok && resolved.nodeId.toString()).toBe(node);
    }
    // Refused, where node-opcua reads a node: a number with trailing text, text before ns=, a bad GUID, not base64.
    for (const text of ["ns=2;i=12abc", "junk ns=3;s=Tag", "ns=2;b=AQ ID"]) {
      expect(() => coerceNodeId(text)).not.toThrow();
      expect(resolveAddress(text).ok).toBe(false);
    }
  });
});

const ENDPOINT_BATCH = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("opcua_node", sys.argv[1] + "/opcua_node.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
json.dump([mod.endpoint_error(url) for url in json.load(sys.stdin)], sys.stdout)
`;

describe("OPC UA endpoints: the module refuses what the sidecar would not connect to", () => {
  const host = fc.oneof(
    fc.constantFrom("plc-gw", "10.0.0.5", "[::1]", "[fe80::1%eth0]", "", "h_1", "höst", "a b", "[x]"),
    fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
  );
  const port = fc.oneof(
    fc.constant(""),
    fc.constantFrom(":0", ":1", ":4840", ":65535", ":65536", ":99999", ":", ":48a0"),
  );
  const path = fc.oneof(
    fc.constant(""),
    fc.constantFrom("/", "/UA/Line1", "/a b", "/tab\t", "/nel\u0085", "/\ufeff", "/é", "/\u00a0", "\n"),
    fc.string({ maxLength: 6 }).map((p) => `/${p}`),
  );
  const scheme = fc.constantFrom("opc.tcp://", "opc.tcp://", "opc.tcp://", "OPC.TCP://", "http://", "opc.https://", "");
  const url = fc.tuple(scheme, host, port, path).map(([s, h, p, q]) => s + h + p + q);

  it("agrees with opcua_node.endpoint_error on generated URLs", () => {
    const urls = fc.sample(url, { seed: 48, numRuns: 3000 });
    const run = spawnSync(peerPython(), ["-c", ENDPOINT_BATCH, MODULE_DIR], {
      input: JSON.stringify(urls),
      encoding: "utf8",
    });
    if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
    const errors = JSON.parse(run.stdout) as string[];
    const differences = urls.flatMap((text, index) => {
      const problem = opcuaEndpointProblem(text) ?? "";
      return problem === errors[index] ? [] : [{ url: text, sidecar: problem, odoo: errors[index] }];
    });
    expect(differences.slice(0, 10)).toEqual([]);
    expect(errors.filter((error) => error === "").length).toBeGreaterThan(300);
    expect(errors.filter((error) => error !== "").length).toBeGreaterThan(300);
  });
});
