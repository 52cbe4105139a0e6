import { describe, expect, it } from "vitest";
import type { SidecarConfig } from "../../core/contract.ts";
import { sparkplugOptionsFromConfig } from "./source.ts";

function config(sparkplug: Record<string, unknown>): SidecarConfig {
  return {
    code: "line1-spb",
    revision: 3,
    kind: "sparkplug",
    mqtt: { url: "mqtt://broker:1883", topics: [], client_id: "", protocol_version: 4, username: "", password: "" },
    sparkplug,
    rules: [],
  } as unknown as SidecarConfig;
}

describe("Sparkplug options from sidecar_config", () => {
  it("the host role comes from sparkplug.role; an older Odoo that sends none gets a primary host", () => {
    expect(sparkplugOptionsFromConfig(config({ group_id: "G", host_id: "h", role: "passive" })).role).toBe("passive");
    expect(sparkplugOptionsFromConfig(config({ group_id: "G", host_id: "h", role: "primary" })).role).toBe("primary");
    expect(sparkplugOptionsFromConfig(config({ group_id: "G", host_id: "h" })).role).toBe("primary");
  });

  it("the MQTT keepalive is the connection's (60 s from an older Odoo); one MQTT cannot carry is refused", () => {
    const withKeepalive = (keepalive_s: number | undefined) => {
      const made = config({ group_id: "G", host_id: "h" });
      if (made.mqtt && keepalive_s !== undefined) made.mqtt.keepalive_s = keepalive_s;
      return made;
    };
    expect(sparkplugOptionsFromConfig(withKeepalive(undefined)).keepaliveSeconds).toBe(60);
    expect(sparkplugOptionsFromConfig(withKeepalive(5)).keepaliveSeconds).toBe(5);
    expect(() => sparkplugOptionsFromConfig(withKeepalive(0))).toThrow(
      "the MQTT keepalive 0 is not a whole number of seconds from 1 to 65535: set Keepalive (s) on the connection in Odoo",
    );
  });

  it("refuses a group or host id that is empty or holds / + #, naming it: it would subscribe to nothing", () => {
    expect(() => sparkplugOptionsFromConfig(config({ group_id: "", host_id: "h" }))).toThrow(
      'the Sparkplug group id "" must be set, without / + # (Sparkplug B topic levels): set it on the connection in Odoo',
    );
    expect(() => sparkplugOptionsFromConfig(config({ group_id: "Plant/1", host_id: "h" }))).toThrow(
      'group id "Plant/1"',
    );
    expect(() => sparkplugOptionsFromConfig(config({ group_id: "G", host_id: "sfb-a+b" }))).toThrow(
      'host id "sfb-a+b"',
    );
    // Nor what MQTT lets a broker refuse: Mosquitto would drop the host's connection.
    expect(() => sparkplugOptionsFromConfig(config({ group_id: "Plant\u00851", host_id: "h" }))).toThrow(
      'the Sparkplug group id "Plant\u00851" may not hold a control character, a Unicode non-character or a lone ' +
        "surrogate (here U+0085): MQTT lets a broker refuse it: set it on the connection in Odoo",
    );
    expect(sparkplugOptionsFromConfig(config({ group_id: "Plant 1", host_id: "sfb-é" })).groupId).toBe("Plant 1");
  });
});
