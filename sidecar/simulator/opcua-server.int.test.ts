// The simulator's OPC UA server read by a plain node-opcua client: what it serves
// is the line's current value, including across its own start and restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttributeIds, OPCUAClient } from "node-opcua";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../devstack/odoo.ts";
import { Line, tagNodeId } from "./line.ts";
import { SimOpcuaServer } from "./opcua-server.ts";
import { sleep } from "./simulation.ts";

const MACHINE = "Press03";
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-sim-opcua-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readGoodCount(server: SimOpcuaServer): Promise<unknown> {
  const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 2 } });
  await client.connect(server.endpoint);
  try {
    const session = await client.createSession();
    const value = await session.read({
      nodeId: tagNodeId("Line3", MACHINE, "GoodCount"),
      attributeId: AttributeIds.Value,
    });
    await session.close();
    return value.value.value;
  } finally {
    await client.disconnect();
  }
}

/** Counts a part every few ms while `work` runs, as the line does through a restart. */
async function countingThrough(line: Line, work: Promise<unknown>): Promise<void> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  while (!done) {
    line.set(MACHINE, "GoodCount", line.tags(MACHINE).GoodCount + 1);
    await sleep(2);
  }
  await finished;
}

it("serves a part counted while the server was starting or restarting (chaos run 2026-12-04)", async () => {
  // Regression: the address space took each tag's value when it was built and
  // followed the line only once the server had started; a part counted in
  // between was never served, so a counter ended one part short.
  const line = new Line("Line3", [MACHINE]);
  const server = new SimOpcuaServer({ line, port: await freePort(), pkiDir: join(dir, "server-pki") });
  try {
    await countingThrough(line, server.start());
    expect(line.tags(MACHINE).GoodCount).toBeGreaterThan(1);
    expect(await readGoodCount(server)).toBe(line.tags(MACHINE).GoodCount);

    await countingThrough(line, server.restart(50));
    expect(await readGoodCount(server)).toBe(line.tags(MACHINE).GoodCount);
  } finally {
    await server.stop();
  }
});
