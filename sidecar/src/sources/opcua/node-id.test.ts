import { describe, expect, it } from "vitest";
import { nodeIdProblem, nodeIdText, readNodeId } from "./node-id.ts";
import { resolveAddress } from "./resolve-node.ts";

describe("OPC UA node ids as text (OPC 10000-6 string form), read strictly", () => {
  it("reads every form: ns=, nsu=, ns=0 left out, each identifier type, a standard node's name", () => {
    expect(readNodeId("ns=2;s=[default]Line1/Press03/Good")).toEqual({
      ok: true,
      node: { namespace: 2, kind: "s", identifier: "[default]Line1/Press03/Good" },
    });
    // A string identifier is the rest of the text, semicolons and all.
    expect(readNodeId("nsu=urn:a;s=x;ns=1;i=5")).toEqual({
      ok: true,
      node: { namespaceUri: "urn:a", kind: "s", identifier: "x;ns=1;i=5" },
    });
    expect(readNodeId("i=2258")).toEqual({ ok: true, node: { namespace: 0, kind: "i", identifier: "2258" } });
    expect(readNodeId("ns=007;i=0042")).toEqual({ ok: true, node: { namespace: 7, kind: "i", identifier: "42" } });
    expect(readNodeId("ns=65535;i=4294967295")).toMatchObject({ ok: true });
    expect(readNodeId("ns=3;g=72962b91-fa75-4ae6-8d28-b404dc7daf63")).toEqual({
      ok: true,
      node: { namespace: 3, kind: "g", identifier: "72962B91-FA75-4AE6-8D28-B404DC7DAF63" },
    });
    expect(readNodeId("ns=2;b=AQID")).toMatchObject({ ok: true, node: { kind: "b", identifier: "AQID" } });
    expect(readNodeId("Server_ServerStatus_CurrentTime")).toEqual({
      ok: true,
      name: "Server_ServerStatus_CurrentTime",
    });
    expect(nodeIdText({ namespace: 0, kind: "i", identifier: "85" })).toBe("i=85");
    expect(nodeIdText({ namespaceUri: "urn:a", kind: "s", identifier: "b" })).toBe("nsu=urn:a;s=b");
  });

  it("refuses what is no node id, saying why", () => {
    for (const [text, why] of [
      ["Line1/Press03/Good", "is not an OPC UA node id: write ns=<index>;s=<name>"],
      ["", "is empty: give an OPC UA node id"],
      ["ns=2;i=12abc", 'numeric identifier "12abc" is not a whole number from 0 to 4294967295'],
      ["ns=2;i=4294967296", 'numeric identifier "4294967296"'],
      ["ns=2;i=", 'numeric identifier ""'],
      ["ns=65536;s=x", 'namespace index "65536" is not a whole number from 0 to 65535'],
      ["ns=-1;s=x", 'namespace index "-1"'],
      ["ns=2", "has no ';' after ns=2"],
      ["ns=2;s=", "string identifier (s=) is empty"],
      ["ns=2;s=a\tb", "string identifier holds a control character (U+0009)"],
      ["ns=2;s=a\u0085b", "(U+0085)"],
      ["ns=2;s=a\ud800", "(U+D800)"],
      ["ns=2;q=x", 'identifier type "q" is none of i (number), s (string), g (GUID), b (base64)'],
      ["ns=2;S=x", 'identifier type "S"'],
      ["ns=2;g={72962B91-FA75-4AE6-8D28-B404DC7DAF63}", "is not of the form 72962B91-FA75-4AE6-8D28-B404DC7DAF63"],
      ["ns=2;b=AQ ID", "is not base64"],
      ["ns=2;b=", "is not base64"],
      ["nsu=urn:x", "has no ';' after its namespace URI"],
      ["nsu=;s=x", "namespace URI (nsu=) is empty"],
      ["junk ns=3;s=Tag", "is not an OPC UA node id"],
      ["72962B91-FA75-4AE6-8D28-B404DC7DAF63", "is not an OPC UA node id"],
      ["ns", "is not an OPC UA node id"],
    ] as const) {
      expect(nodeIdProblem(text), JSON.stringify(text)).toContain(why);
    }
  });

  it("resolves to node-opcua's NodeId; nsu= through the server's namespace table; unknown names said so", () => {
    const table = ["http://opcfoundation.org/UA/", "urn:server", "urn:plant"];
    const ok = (text: string, namespaces?: string[]) => {
      const resolved = resolveAddress(text, namespaces);
      if (!resolved.ok) throw new Error(resolved.problem);
      return resolved.nodeId.toString();
    };
    expect(ok("nsu=urn:plant;s=Count", table)).toBe("ns=2;s=Count");
    expect(ok("ns=2;b=AQID")).toBe("ns=2;b=AQID");
    expect(ok("ObjectsFolder")).toBe("ns=0;i=85");
    expect(ok("ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63")).toBe("ns=1;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63");
    expect(resolveAddress("nsu=urn:elsewhere;s=Count", table)).toEqual({
      ok: false,
      problem:
        '"nsu=urn:elsewhere;s=Count": the server has no namespace "urn:elsewhere" ' +
        "(its namespaces: 0 http://opcfoundation.org/UA/, 1 urn:server, 2 urn:plant)",
    });
    expect(resolveAddress("nsu=urn:plant;s=Count")).toMatchObject({ ok: false });
    expect(resolveAddress("PressCount")).toMatchObject({
      ok: false,
      problem: expect.stringContaining("is neither a node id nor the name of a standard OPC UA node"),
    });
  });
});
