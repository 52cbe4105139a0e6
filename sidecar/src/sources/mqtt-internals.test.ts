// The MQTT source holds each PUBACK until the spool commit by wrapping MQTT.js
// internals (see mqtt.ts). This fails when the installed MQTT.js is not the
// version that was proven, or its internals moved, before any message is lost.
import { createRequire } from "node:module";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { assertAckInternals, type ClientInternals, MQTT_JS_PROVEN_VERSION } from "./mqtt.ts";

const require = createRequire(import.meta.url);

describe("MQTT.js internals the ack-after-commit relies on", () => {
  it("the installed and the pinned version are the proven one", () => {
    const installed = (require("mqtt/package.json") as { version: string }).version;
    const pinned = (require("../../package.json") as { dependencies: Record<string, string> }).dependencies.mqtt;
    expect(pinned).toBe(MQTT_JS_PROVEN_VERSION);
    expect(installed).toBe(MQTT_JS_PROVEN_VERSION);
  });

  it("a client has _sendPacket(packet, cb, cbStorePut, noStore), handleMessage and stream", () => {
    // Never connected (manualConnect): nothing to close.
    const client = mqtt.connect("mqtt://127.0.0.1:1", { manualConnect: true, reconnectPeriod: 0 });
    expect(() => assertAckInternals(client as unknown as ClientInternals)).not.toThrow();
    expect(typeof client.handleMessage).toBe("function");
  });

  it("refuses internals that changed, naming the pinned version", () => {
    expect(() => assertAckInternals({ stream: undefined } as unknown as ClientInternals)).toThrow(
      /MQTT\.js internals changed .*5\.16\.0/,
    );
    const threeArgs = { _sendPacket: (_a: unknown, _b: unknown, _c: unknown) => undefined, stream: undefined };
    expect(() => assertAckInternals(threeArgs as unknown as ClientInternals)).toThrow(/cannot hold PUBACKs/);
  });
});
