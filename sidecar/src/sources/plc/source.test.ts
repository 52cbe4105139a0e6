// PlcSource faults no Modbus device can produce: a tag whose type changes
// under the same address (an S7 DB or a Logix tag redefined by a program
// download). Everything else is tested against pymodbus (source.int.test.ts).
import { describe, expect, it } from "vitest";
import { RecordingSink } from "../../../test/support/sources/source.contract.ts";
import type { MappingRule, SidecarConfig } from "../../core/contract.ts";
import type { PlcDriver, PlcRead, PlcValue } from "./driver.ts";
import { PlcSource, plcOptionsFromConfig, ruleValue } from "./source.ts";

/** Fake for a fault the real drivers cannot be made to show here: answers each read with the next scripted value. */
class TypeChangingDriverFake implements PlcDriver<string> {
  readonly protocol = "s7" as const;
  readonly #script: PlcValue[];
  reads = 0;
  constructor(script: PlcValue[]) {
    this.#script = script;
  }
  parse(address: string): string {
    return address;
  }
  async connect(): Promise<void> {}
  async read(tags: readonly string[]): Promise<PlcRead[]> {
    const value = this.#script[Math.min(this.reads++, this.#script.length - 1)] as PlcValue;
    return tags.map(() => ({ ok: true, value }));
  }
  async write(): Promise<void> {}
  async close(): Promise<void> {}
}

const counter: MappingRule = {
  id: 5,
  kind: "counter",
  protocol: "s7",
  address: "DB1,DINT0",
  source: "plant1/press",
  event_type: "production.reported",
  params: {},
};

describe("PlcSource", () => {
  it("says a tag that changed type, hands the value to the rules (which refuse it) and keeps polling", async () => {
    const driver = new TypeChangingDriverFake([10, 12, "twelve", "twelve", 15]);
    const logs: string[] = [];
    const source = new PlcSource({
      connection: "c1",
      revision: 1,
      driver,
      rules: [counter],
      pollIntervalMs: 10,
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    const sink = new RecordingSink();
    await source.start(sink);
    while (driver.reads < 6) await new Promise((resolve) => setTimeout(resolve, 5));
    await source.stop();
    expect(source.stats()).toMatchObject({ type_changes: 2, changes: 4, invalid_values: 1, connected: 0 });
    expect(logs.filter((line) => line.includes("changed type"))).toEqual([
      "error s7: address DB1,DINT0 of rule 5 (counter plant1/press) changed type from number to string (value twelve): check the address and the PLC program",
      "error s7: address DB1,DINT0 of rule 5 (counter plant1/press) changed type from string to number (value 15): check the address and the PLC program",
    ]);
    const quantities = sink.committed.map((item) => (item.kind === "event" ? item.event.data.qty_good : undefined));
    expect(quantities).toEqual([2, 3]);
  });

  it("polls every second when the connection sets no interval, and takes only its protocol's rules", () => {
    const plc = { host: "h", port: 0, unit_id: 1, rack: 0, slot: 0, poll_interval_ms: 0, timeout_ms: 0 };
    const config = {
      code: "c1",
      kind: "s7",
      revision: 4,
      plc,
      rules: [counter, { ...counter, id: 6, protocol: "opcua" }],
    } as unknown as SidecarConfig;
    const opts = plcOptionsFromConfig(config, new TypeChangingDriverFake([1]));
    expect(opts).toMatchObject({ connection: "c1", revision: 4, pollIntervalMs: 1_000 });
    expect(opts.rules.map((rule) => rule.id)).toEqual([5]);
    expect(() => plcOptionsFromConfig({ ...config, plc: false }, new TypeChangingDriverFake([1]))).toThrow(
      "connection c1: kind s7 needs the plc block of sidecar_config",
    );
  });

  it("gives the rules 64-bit integers as numbers while exact, as text beyond", () => {
    expect(ruleValue(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(ruleValue(-(2n ** 53n - 1n))).toBe(-(2 ** 53 - 1));
    expect(ruleValue(2n ** 53n)).toBe("9007199254740992");
    expect(ruleValue(1.5)).toBe(1.5);
  });
});
