// The shipped presets, evaluated by the sidecar's own mapping evaluator
// (sidecar/src/mapping/evaluate.ts) on the kits' recorded payloads, their
// samples, and payloads fast-check makes up. The end-to-end proof through
// Odoo is test/e2e/payload_presets.e2e.test.ts and test/e2e/kits.e2e.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MappedObservation, runMapping } from "../../sidecar/src/mapping/evaluate.ts";
import { sha256hex } from "../../sidecar/test/support/mapping/mapping.fixtures.ts";
import { loadPresets, payloadBytes, preset, presetMapping, readRecorded } from "./presets.ts";

const RECEIVED = new Date("2026-12-01T07:00:00.000Z");

async function mapped(code: string, payload: unknown, topic: string) {
  const outcome = await runMapping(
    presetMapping(preset(code)),
    { payload: payloadBytes(payload), topic, receivedAt: RECEIVED, connection: "plant1", revision: 1 },
    sha256hex,
  );
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome;
}

async function observe(code: string, payload: unknown, topic: string): Promise<MappedObservation[]> {
  return (await mapped(code, payload, topic)).observations;
}

const plain = (observations: MappedObservation[]) =>
  observations.map((o) => ({ address: o.address, value: o.value, time: o.time.toISOString() }));

const iso = (ms: number) => new Date(ms).toISOString();

describe("payload presets (shopfloor_payload_presets.xml)", () => {
  it("every preset has a description, a valid match, and turns its own sample into readings or events", async () => {
    const presets = loadPresets();
    expect(presets.map((p) => p.code).sort()).toEqual([
      "generic_columns_events",
      "highbyte_flat_json",
      "ignition_tag_change",
      "kepware_iot_gateway",
      "uns_value_json",
      "uns_value_text",
      "wonderware_history_narrow",
      "wonderware_history_wide",
    ]);
    for (const p of presets) {
      expect(p.description.length, p.code).toBeGreaterThan(80);
      const topic = p.match.replace("#", "sample").replace(/\+/g, "x");
      const payload = p.payload_format === "json" ? JSON.parse(p.sample_payload) : p.sample_payload;
      const outcome = await mapped(p.code, payload, topic);
      // A values preset yields readings for the rules, an events preset events.
      const made = p.kind === "values" ? outcome.observations : outcome.events;
      expect(made.length, p.code).toBeGreaterThan(0);
    }
  });

  describe("Kepware IoT Gateway", () => {
    it("the recorded shift: every good value at its own time, bad quality left out", async () => {
      for (const { topic, payload } of readRecorded("integrations/kepware/recorded/iotgateway.jsonl")) {
        const message = payload as { values: { id: string; v: unknown; q: boolean; t: number }[] };
        expect(plain(await observe("kepware_iot_gateway", payload, topic))).toEqual(
          message.values.filter((v) => v.q).map((v) => ({ address: v.id, value: v.v, time: iso(v.t) })),
        );
      }
    });

    it("any standard-template message: exactly the q=true values, in order", async () => {
      const value = fc.record({
        id: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z0-9_]{1,8}){0,3}$/),
        v: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.string()),
        q: fc.boolean(),
        t: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(value, { maxLength: 20 }), fc.integer({ min: 0, max: 4e12 }), async (values, ts) => {
          const got = plain(await observe("kepware_iot_gateway", { timestamp: ts, values }, "iotgateway"));
          const want = values.filter((v) => v.q).map((v) => ({ address: v.id, value: v.v, time: iso(v.t) }));
          // -0 is written as 0 in JSON: compare what crosses the wire.
          expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(want)));
        }),
      );
    });

    it("a value without its own t takes the message timestamp", async () => {
      const got = await observe(
        "kepware_iot_gateway",
        { timestamp: 1796104800000, values: [{ id: "A.B.C", v: 1, q: true }] },
        "iotgateway",
      );
      expect(plain(got)).toEqual([{ address: "A.B.C", value: 1, time: iso(1796104800000) }]);
    });
  });

  describe("Ignition tag-change JSON", () => {
    it("the kit's recorded tag changes: readings of Good quality only", async () => {
      const recorded = readRecorded("integrations/ignition/recorded/tag-changes.jsonl");
      const readings = [];
      for (const { topic, payload } of recorded)
        readings.push(...plain(await observe("ignition_tag_change", payload, topic)));
      const good = recorded.map((r) => r.payload as Record<string, unknown>).filter((p) => p.quality === "Good");
      expect(readings).toEqual(
        good.map((p) => ({ address: p.tagPath, value: p.value, time: iso(p.timestamp as number) })),
      );
      expect(readings.length).toBe(recorded.length - 1);
    });

    it("a list of changes, and any quality name: Good and Good_* are readings, nothing else", async () => {
      const quality = fc.oneof(
        fc.constantFrom(
          "Good",
          "Good_Provisional",
          "Bad",
          "Bad_NotConnected",
          "Uncertain_LastKnownValue",
          "Goodbye",
          "Not_Good",
        ),
        fc.string({ maxLength: 12 }),
      );
      const change = fc.record({
        tagPath: fc.stringMatching(/^\[default\][A-Za-z0-9/]{1,20}$/),
        value: fc.oneof(fc.integer(), fc.boolean(), fc.string({ minLength: 1 })),
        quality,
        timestamp: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 10 }), async (changes) => {
          const got = plain(await observe("ignition_tag_change", changes, "ignition/tags/x"));
          const good = changes.filter((c) => c.quality === "Good" || c.quality.startsWith("Good_"));
          expect(got).toEqual(good.map((c) => ({ address: c.tagPath, value: c.value, time: iso(c.timestamp) })));
        }),
      );
    });
  });

  describe("UNS single values", () => {
    it("plain text: JSON numbers and true/false as such, other text as text, at the receive time", async () => {
      const topic = "plant1/line1/press-03/State";
      expect(plain(await observe("uns_value_text", "120", topic))).toEqual([
        { address: topic, value: 120, time: RECEIVED.toISOString() },
      ]);
      expect((await observe("uns_value_text", " -12.5e1\n", topic))[0]?.value).toBe(-125);
      expect((await observe("uns_value_text", "true", topic))[0]?.value).toBe(true);
      expect((await observe("uns_value_text", "RUNNING", topic))[0]?.value).toBe("RUNNING");
      // A leading zero is not a JSON number: a code such as 007 stays text.
      expect((await observe("uns_value_text", "007", topic))[0]?.value).toBe("007");
      // An empty message clears a retained topic: no reading.
      expect(await observe("uns_value_text", "", topic)).toEqual([]);
    });

    it("plain text: any number printed by a producer reads back as that number", async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), async (n) => {
          const [reading] = await observe("uns_value_text", String(n), "a/b");
          expect(reading?.value).toBe(Object.is(n, -0) ? 0 : n);
        }),
      );
    });

    it("JSON: a bare value at the receive time, {value, timestamp} at its own time (ms or ISO)", async () => {
      const topic = "plant1/line1/press-03/GoodCount";
      expect(plain(await observe("uns_value_json", 120, topic))).toEqual([
        { address: topic, value: 120, time: RECEIVED.toISOString() },
      ]);
      expect(plain(await observe("uns_value_json", { value: 7, timestamp: 1796104800000 }, topic))).toEqual([
        { address: topic, value: 7, time: iso(1796104800000) },
      ]);
      expect(
        plain(await observe("uns_value_json", { value: "DOWN", timestamp: "2026-12-01T06:00:00+01:00" }, topic)),
      ).toEqual([{ address: topic, value: "DOWN", time: "2026-12-01T05:00:00.000Z" }]);
    });

    it("JSON: an object without value is an error naming the address, not a silent drop", async () => {
      await expect(observe("uns_value_json", { val: 1 }, "a/b")).rejects.toThrow(/\(a\/b\) has no value/);
    });
  });

  describe("HighByte-style flat JSON", () => {
    it("each named scalar is <topic>/<name>; _ keys are metadata; _timestamp is the time", async () => {
      const got = plain(
        await observe(
          "highbyte_flat_json",
          {
            GoodCount: 5,
            State: "RUNNING",
            Ok: true,
            Nested: { a: 1 },
            _name: "press-01",
            _timestamp: "2026-12-01T06:01:00.000Z",
          },
          "highbyte/plant1/press-01",
        ),
      );
      expect(got).toEqual([
        { address: "highbyte/plant1/press-01/GoodCount", value: 5, time: "2026-12-01T06:01:00.000Z" },
        { address: "highbyte/plant1/press-01/State", value: "RUNNING", time: "2026-12-01T06:01:00.000Z" },
        { address: "highbyte/plant1/press-01/Ok", value: true, time: "2026-12-01T06:01:00.000Z" },
      ]);
    });

    it("any flat object of scalars: one reading per key not starting with _", async () => {
      const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/).filter((k) => k !== "timestamp");
      const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.string());
      await fc.assert(
        fc.asyncProperty(fc.dictionary(key, scalar, { minKeys: 1, maxKeys: 12 }), async (object) => {
          const got = plain(await observe("highbyte_flat_json", { ...object, _timestamp: 1796104800000 }, "hb/m1"));
          expect(got).toEqual(
            Object.entries(object).map(([name, value]) => ({
              address: `hb/m1/${name}`,
              value,
              time: iso(1796104800000),
            })),
          );
        }),
      );
    });
  });
});
