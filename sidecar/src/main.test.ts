import { describe, expect, it } from "vitest";
import type { BootstrapConfig } from "./config.ts";
import type { SidecarConfig } from "./core/contract.ts";
import { withOverrides } from "./main.ts";

const boot: BootstrapConfig = {
  odooUrl: "http://odoo",
  odooDb: "db",
  odooUser: "u",
  odooApiKey: "k",
  connection: "line1",
  spoolDir: "/tmp/x",
  metricsPort: 0,
};
const fromOdoo = {
  code: "line1",
  kind: "mqtt",
  revision: 3,
  mqtt: {
    url: "mqtt://odoo-says:1883",
    topics: [],
    client_id: "c",
    protocol_version: 5,
    username: "",
    password: "",
    ca: "",
    reject_unauthorized: true,
  },
  opcua: false,
} as unknown as SidecarConfig;

describe("withOverrides", () => {
  it("keeps Odoo's values without overrides, defaulting empty topic filters to shopfloor/#", () => {
    const c = withOverrides(fromOdoo, boot);
    expect(c.mqtt).toMatchObject({ url: "mqtt://odoo-says:1883", topics: ["shopfloor/#"] });
    expect(fromOdoo.mqtt).toMatchObject({ topics: [] });
  });

  it("lets MQTT_URL and OPCUA_ENDPOINT win over what Odoo says", () => {
    expect(withOverrides(fromOdoo, { ...boot, mqttUrl: "mqtts://local:8883" }).mqtt).toMatchObject({
      url: "mqtts://local:8883",
    });
    const opcua = { ...fromOdoo, kind: "opcua", mqtt: false, opcua: { endpoint: "opc.tcp://a:4840" } } as SidecarConfig;
    expect(withOverrides(opcua, { ...boot, opcuaEndpoint: "opc.tcp://b:4840" }).opcua).toMatchObject({
      endpoint: "opc.tcp://b:4840",
    });
  });
});
