import fc from "fast-check";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { mqttUrlProblem } from "./mqtt-url.ts";

describe("broker URLs MQTT.js reads as written (mqttUrlProblem)", () => {
  it("takes every scheme MQTT.js speaks from Node, with or without port, user, trailing slash or IPv6", () => {
    for (const url of [
      "mqtt://broker:1883",
      "mqtt://broker",
      "MQTT://Broker.plant.local:1883/",
      "mqtts://broker:8883",
      "tcp://10.0.0.5:1883",
      "ssl://broker:8883",
      "tls://broker:8883",
      "mqtt://user:pw@broker:1883",
      "mqtt://[::1]:1883",
      "ws://broker:8080/mqtt",
      "wss://iot.example.com/mqtt?X-Amz-Signature=abc&X-Amz-Date=20261206",
    ]) {
      expect(mqttUrlProblem(url), url).toBeUndefined();
    }
  });

  it("refuses what it would not read as written, saying why", () => {
    const cases: [string, string][] = [
      ["broker:1883", "it is not scheme://host:port"],
      ["http://broker:1883", "http:// is no MQTT scheme"],
      ["mqtt://", "a host is missing"],
      ["mqtt://broker:0", '"0" is not a port (1 to 65535)'],
      ["mqtt://broker:99999", '"99999" is not a port'],
      ["mqtt://bro ker:1883", "a URL holds no spaces"],
      ["mqtt://[zz]:1883", "[zz] is not an IPv6 address"],
      ["mqtt://broker:1883/plant1", "MQTT over TCP has no path (/plant1 would be ignored)"],
      ["mqtt://broker:1883?clientId=other", "MQTT over TCP has no ?query"],
      ["mqtt://broker:1883#x", "a broker URL has no #fragment"],
      ["ws://broker:8080/mqtt?clientId=other", "?clientId= would replace the connection's MQTT client id"],
    ];
    for (const [url, why] of cases) expect(mqttUrlProblem(url), url).toContain(why);
  });

  it("what it refuses for ?clientId= is what MQTT.js would otherwise do: take it over the client id given", () => {
    const client = mqtt.connect("mqtt://127.0.0.1:1?clientId=from-the-url", {
      clientId: "sfb-line1",
      manualConnect: true,
      reconnectPeriod: 0,
    });
    expect(client.options.clientId).toBe("from-the-url");
  });

  it("answers any text, never throws (fast-check)", () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom("mqtt://", "ws://", "tcp://", "", "x://"), (text, scheme) => {
        const said = mqttUrlProblem(scheme + text);
        expect(said === undefined || typeof said === "string").toBe(true);
      }),
    );
  });
});
