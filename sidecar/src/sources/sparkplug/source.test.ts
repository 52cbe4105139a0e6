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
});
