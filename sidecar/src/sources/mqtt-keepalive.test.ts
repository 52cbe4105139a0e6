import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_KEEPALIVE_S, mqttKeepalive } from "./mqtt.ts";

describe("the connection's MQTT keepalive (sidecar_config's mqtt.keepalive_s)", () => {
  it("an older Odoo that sends none gets MQTT.js's 60 s", () => {
    expect(mqttKeepalive({})).toBe(60);
    expect(DEFAULT_KEEPALIVE_S).toBe(60);
  });

  it("takes every whole number of seconds MQTT's two bytes carry, 1 to 65535", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 65_535 }), (s) => mqttKeepalive({ keepalive_s: s }) === s));
  });

  it("refuses anything else, naming the field: 0 would turn the pings off and leave a silent broker unnoticed", () => {
    expect(() => mqttKeepalive({ keepalive_s: 0 })).toThrow(
      "the MQTT keepalive 0 is not a whole number of seconds from 1 to 65535: set Keepalive (s) on the connection in Odoo",
    );
    for (const bad of [-1, 65_536, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => mqttKeepalive({ keepalive_s: bad }), String(bad)).toThrow(/Keepalive \(s\)/);
    }
    fc.assert(
      fc.property(
        fc.double().filter((x) => !(Number.isInteger(x) && x >= 1 && x <= 65_535)),
        (x) => {
          expect(() => mqttKeepalive({ keepalive_s: x })).toThrow(/not a whole number of seconds from 1 to 65535/);
        },
      ),
    );
  });
});
