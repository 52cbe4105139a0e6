// OPC UA node ids as text (OPC 10000-6, "NodeId" string form), read strictly:
//
//   [ns=<namespace index>; | nsu=<namespace URI>;] <type>=<identifier>
//
// with the index a UInt16 and the identifier i=<UInt32>, s=<string>,
// g=<GUID 8-4-4-4-12> or b=<base64 ByteString>; `ns=0;` may be left out. A
// bare name (Server_ServerStatus_CurrentTime) is a standard node of
// namespace 0 by its name in the OPC UA specification's NodeIds table.
//
// node-opcua's coerceNodeId is not used to read what an admin typed: its
// patterns are unanchored and tried in order, so the string identifier of
// "ns=2;s=Bay;ns=1;i=5" was read as the numeric node ns=1;i=5, "ns=2;i=12abc"
// as i=12, and "junk ns=3;s=Tag" as ns=3;s=Tag; it reads any text as base64,
// and nsu= only with a namespace table it is not given. The module checks the
// same grammar (odoo_addon/shopfloor_bridge/opcua_node.py) when a rule is
// saved; test/contract/opcua-node-id.int.test.ts holds both to it and to asyncua's
// reader. Pure: no node-opcua import.

export type NodeIdKind = "i" | "s" | "g" | "b";

export interface ParsedNodeId {
  /** Namespace index; undefined when `namespaceUri` names the namespace. */
  namespace?: number;
  namespaceUri?: string;
  kind: NodeIdKind;
  /** i: decimal digits without leading zeros; s: the string; g: the GUID in upper case; b: the base64 text. */
  identifier: string;
}

export type NodeIdReading =
  | { ok: true; node: ParsedNodeId }
  | { ok: true; name: string }
  | { ok: false; problem: string };

const UINT16_MAX = 65_535;
const UINT32_MAX = 4_294_967_295;
const DIGITS = /^[0-9]+$/;
const GUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// C0, DEL, C1 and lone surrogates: no OPC UA String carries them (UTF-8 on the wire).
const UNSENDABLE = /[\p{Cc}\p{Cs}]/u;

export const NODE_ID_EXAMPLE = "ns=2;s=Line1/Press03/Good";

function codePointName(text: string): string {
  const found = UNSENDABLE.exec(text)?.[0] ?? "";
  return `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

function unsigned(digits: string, max: number): string | undefined {
  if (!DIGITS.test(digits)) return undefined;
  const value = digits.replace(/^0+(?=.)/, "");
  return value.length > String(max).length || Number(value) > max ? undefined : value;
}

/** `text` read as an OPC UA node id, or why it is none (a sentence for the person who typed it). */
export function readNodeId(text: string): NodeIdReading {
  if (text === "") return { ok: false, problem: `is empty: give an OPC UA node id, e.g. ${NODE_ID_EXAMPLE}` };
  if (NAME.test(text) && !/^(?:ns|nsu|i|s|g|b)$/.test(text)) return { ok: true, name: text };
  let rest = text;
  let namespace: number | undefined = 0;
  let namespaceUri: string | undefined;
  if (rest.startsWith("ns=")) {
    const end = rest.indexOf(";");
    const index = rest.slice(3, end < 0 ? undefined : end);
    if (end < 0) return { ok: false, problem: `has no ';' after ns=${index}: write ns=<index>;s=<name>` };
    const value = unsigned(index, UINT16_MAX);
    if (value === undefined) {
      return { ok: false, problem: `namespace index ${JSON.stringify(index)} is not a whole number from 0 to 65535` };
    }
    namespace = Number(value);
    rest = rest.slice(end + 1);
  } else if (rest.startsWith("nsu=")) {
    const end = rest.indexOf(";");
    if (end < 0) return { ok: false, problem: "has no ';' after its namespace URI: write nsu=<URI>;s=<name>" };
    namespaceUri = rest.slice(4, end);
    if (namespaceUri === "") return { ok: false, problem: "namespace URI (nsu=) is empty" };
    if (UNSENDABLE.test(namespaceUri)) {
      return { ok: false, problem: `namespace URI holds a control character (${codePointName(namespaceUri)})` };
    }
    namespace = undefined;
    rest = rest.slice(end + 1);
  }
  const kind = rest.slice(0, 1);
  if (rest.slice(1, 2) !== "=" || !"isgb".includes(kind) || kind === "") {
    const shown = rest.includes("=") ? rest.slice(0, rest.indexOf("=")) : rest;
    return {
      ok: false,
      problem:
        rest === text
          ? `is not an OPC UA node id: write ns=<index>;s=<name> (e.g. ${NODE_ID_EXAMPLE}), ns=<index>;i=<number>, ` +
            "ns=<index>;g=<GUID>, ns=<index>;b=<base64> or nsu=<namespace URI>;s=<name>"
          : `identifier type ${JSON.stringify(shown)} is none of i (number), s (string), g (GUID), b (base64)`,
    };
  }
  const raw = rest.slice(2);
  const located = (identifier: string): NodeIdReading => ({
    ok: true,
    node:
      namespaceUri === undefined
        ? { namespace, kind: kind as NodeIdKind, identifier }
        : { namespaceUri, kind: kind as NodeIdKind, identifier },
  });
  switch (kind) {
    case "i": {
      const value = unsigned(raw, UINT32_MAX);
      if (value === undefined) {
        return {
          ok: false,
          problem: `numeric identifier ${JSON.stringify(raw)} is not a whole number from 0 to 4294967295`,
        };
      }
      return located(value);
    }
    case "s":
      if (raw === "") return { ok: false, problem: "string identifier (s=) is empty" };
      if (UNSENDABLE.test(raw)) {
        return { ok: false, problem: `string identifier holds a control character (${codePointName(raw)})` };
      }
      return located(raw);
    case "g":
      if (!GUID.test(raw)) {
        return {
          ok: false,
          problem: `GUID ${JSON.stringify(raw)} is not of the form 72962B91-FA75-4AE6-8D28-B404DC7DAF63`,
        };
      }
      return located(raw.toUpperCase());
    default:
      if (raw === "" || !BASE64.test(raw)) {
        return { ok: false, problem: `ByteString identifier ${JSON.stringify(raw)} is not base64 (e.g. b=AQID)` };
      }
      return located(raw);
  }
}

/** Why `text` is no OPC UA node id; undefined when it is one. */
export function nodeIdProblem(text: string): string | undefined {
  const reading = readNodeId(text);
  return reading.ok ? undefined : reading.problem;
}

/** A parsed node id in the string form, `ns=0;` left out: what node-opcua's and asyncua's toString write. */
export function nodeIdText(node: ParsedNodeId): string {
  const where =
    node.namespaceUri !== undefined ? `nsu=${node.namespaceUri};` : node.namespace ? `ns=${node.namespace};` : "";
  return `${where}${node.kind}=${node.identifier}`;
}
