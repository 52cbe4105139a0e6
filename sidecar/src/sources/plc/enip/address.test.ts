import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlcAddressError } from "../driver.ts";
import { parseEnipAddress } from "./address.ts";

const hex = (address: string) => parseEnipAddress(address).path.toString("hex");
const symbol = (name: string) => {
  const bytes = Buffer.from(name, "latin1");
  return Buffer.concat([Buffer.from([0x91, bytes.length]), bytes, Buffer.alloc(bytes.length % 2)]).toString("hex");
};

/** Reads a request path back into names and indices (the inverse of what the parser encodes). */
function decodePath(path: Buffer): (string | number)[] {
  const parts: (string | number)[] = [];
  for (let at = 0; at < path.length; ) {
    const kind = path[at] ?? 0;
    if (kind === 0x91) {
      const length = path[at + 1] ?? 0;
      parts.push(path.toString("latin1", at + 2, at + 2 + length));
      at += 2 + length + (length % 2);
    } else if (kind === 0x28) {
      parts.push(path[at + 1] ?? 0);
      at += 2;
    } else if (kind === 0x29) {
      parts.push(path.readUInt16LE(at + 2));
      at += 4;
    } else if (kind === 0x2a) {
      parts.push(path.readUInt32LE(at + 2));
      at += 6;
    } else throw new Error(`segment 0x${kind.toString(16)}`);
  }
  return parts;
}

describe("parseEnipAddress", () => {
  it("encodes controller tags, program tags, members, indices and bits as Logix request paths", () => {
    expect(hex("Counter")).toBe(symbol("Counter"));
    expect(hex("Program:MainProgram.Counter")).toBe(symbol("Program:MainProgram") + symbol("Counter"));
    expect(hex("Line.Good")).toBe(symbol("Line") + symbol("Good"));
    expect(hex("Counts[3]")).toBe(`${symbol("Counts")}2803`);
    expect(hex("Grid[1, 300,70000]")).toBe(`${symbol("Grid")}2801${"29002c01"}${"2a0070110100"}`);
    expect(hex("Line.Stations[2].Good")).toBe(`${symbol("Line")}${symbol("Stations")}2802${symbol("Good")}`);
    expect(parseEnipAddress("Flags.31")).toMatchObject({ bit: 31, path: parseEnipAddress("Flags").path });
    expect(parseEnipAddress("Counter").bit).toBeUndefined();
  });

  it.each([
    ["", /empty/],
    ["1Counter", /"1Counter" is not a Logix name/],
    ["Line..Good", /empty name between dots/],
    ["Counts[3", /no closing \]/],
    ["Counts[-1]", /index "-1"/],
    ["Counts[x]", /index "x"/],
    ["Grid[1,2,3,4]", /more than 3 dimensions/],
    ["Flags.64", /bit 64 is beyond 63/],
    ["Program:Main", /Program:<program>\.<tag>/],
    ["Program:9Main.Counter", /program "9Main"/],
    [`T${"x".repeat(40)}`, /longer than 40/],
    ["Tag Name", /not a Logix name/],
  ])("refuses %j, naming the wrong part and showing examples", (address, why) => {
    const error = (() => {
      try {
        parseEnipAddress(address);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(PlcAddressError);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toContain("examples: Counter, Program:MainProgram.Counter");
  });

  it("encodes any well-formed address so that its names and indices read back in order", () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,39}$/);
    const indices = fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 3 });
    const part = fc.tuple(name, indices);
    fc.assert(
      fc.property(
        fc.option(name, { nil: undefined }),
        fc.array(part, { minLength: 1, maxLength: 4 }),
        (program, parts) => {
          const text = parts.map(([n, i]) => (i.length > 0 ? `${n}[${i.join(",")}]` : n)).join(".");
          const address = program === undefined ? text : `Program:${program}.${text}`;
          const expected = [
            ...(program === undefined ? [] : [`Program:${program}`]),
            ...parts.flatMap(([n, i]) => [n, ...i]),
          ];
          const tag = parseEnipAddress(address);
          expect(tag.path.length % 2).toBe(0);
          expect(decodePath(tag.path)).toEqual(expected);
        },
      ),
    );
  });
});
