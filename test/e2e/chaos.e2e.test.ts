// The short form of `npm run test:chaos`: a minute and a half of the
// demo plant's lines (four MQTT machines, one OPC UA line with its own
// sidecar) at a steady rate with one fault of each kind (sidecar kill -9,
// Odoo restart, Mosquitto restart, spool quota reached, OPC UA server
// dropped), then Odoo against the simulators' ledgers: nothing lost, nothing
// twice, malformed input rejected, the OPC UA line's part counts and state
// changes as its ledger says, cost figures equal to a recomputation.
import { afterAll, expect, it } from "vitest";
import { dropDatabase } from "../../sidecar/devstack/odoo.ts";
import { FAULT_KINDS, faultSchedule, formatTable, runChaos, seededRandom } from "../chaos/chaos.ts";

it("the fault schedule puts every fault kind in the window, spaced, reproducibly from the seed", () => {
  const a = faultSchedule(seededRandom(3), FAULT_KINDS, 2, 60_000);
  const b = faultSchedule(seededRandom(3), FAULT_KINDS, 2, 60_000);
  expect(a).toEqual(b);
  expect(a).toHaveLength(FAULT_KINDS.length * 2);
  for (const kind of FAULT_KINDS) expect(a.filter((f) => f.kind === kind)).toHaveLength(2);
  for (let i = 1; i < a.length; i++) expect((a[i]?.at ?? 0) - (a[i - 1]?.at ?? 0)).toBeGreaterThan(0);
  expect(Math.max(...a.map((f) => f.at))).toBeLessThan(60_000);
});

const db = `sfb_chaos_e2e_${process.pid}`;
// runChaos drops its database itself; this covers a run cut short by the timeout.
afterAll(() => dropDatabase(db));

it("a short soak with one fault of each kind: the ledger and Odoo agree", { timeout: 295_000 }, async () => {
  const result = await runChaos({ minutes: 1.5, rate: 3, faultsPerKind: 1, seed: 20261122, spoolCapacity: 40, db });
  const table = formatTable(result);
  expect(result.faults.map((f) => f.kind).sort(), table).toEqual([...FAULT_KINDS].sort());
  expect(
    result.rows.filter((r) => !r.ok),
    table,
  ).toEqual([]);
  expect(result.costMismatches, table).toEqual([]);
  // The OPC UA line was compared, and the server's drop left parts for the reconnection to deliver.
  const opcuaRows = result.rows.filter((r) => r.category.startsWith("OPC UA"));
  expect(opcuaRows.filter((r) => /good parts applied/.test(r.category)).length, table).toBe(2);
  expect(opcuaRows.find((r) => r.category === "OPC UA server restarts")?.found, table).toBe(1);
  expect(result.ok).toBe(true);
});
