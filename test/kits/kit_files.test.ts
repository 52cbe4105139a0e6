// The kits' files agree with each other and with the presets: what the
// Kepware agent is set to publish is what the recording holds and what the
// preset reads; the Ignition UDT has every member the gateway script reads,
// and the script publishes where the preset listens.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { topicMatches } from "../../sidecar/src/mapping/evaluate.ts";
import { preset, readRecorded } from "./presets.ts";

const repoRoot = join(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");

describe("Kepware kit", () => {
  const agent = JSON.parse(read("integrations/kepware/mqtt-agent.json")) as Record<string, unknown> & {
    iot_items: Record<string, unknown>[];
  };
  const recorded = readRecorded("integrations/kepware/recorded/iotgateway.jsonl");

  it("the agent publishes the standard template to the topic the preset matches", () => {
    expect(agent["iot_gateway.AGENTTYPES_TYPE"]).toBe("MQTT Client");
    expect(agent["iot_gateway.AGENTTYPES_MESSAGE_FORMAT"]).toBe(0);
    expect(agent["iot_gateway.MQTT_CLIENT_QOS"]).toBe(1);
    expect(agent["iot_gateway.AGENTTYPES_SEND_INITIAL_UPDATE"]).toBe(true);
    const topic = agent["iot_gateway.MQTT_CLIENT_TOPIC"] as string;
    expect(topicMatches(preset("kepware_iot_gateway").match, topic)).toBe(true);
    // The template names each key the preset reads, with Kepware's own variables.
    const template = agent["iot_gateway.AGENTTYPES_STANDARD_TEMPLATE"] as string;
    const expansion = agent["iot_gateway.AGENTTYPES_EXPANSION_OF_VALUES"] as string;
    const keys = (text: string) =>
      text
        .split("\r\n")
        .filter(Boolean)
        .map((line) => line.split(":")[0]);
    expect(keys(template)).toEqual(["timestamp", "values"]);
    expect(keys(expansion)).toEqual(["id", "v", "q", "t"]);
    expect(template).toContain("|SERVERTIMESTAMP|");
    expect(expansion).toContain("|TAGQUALITY|");
  });

  it("the recording is that shape, from the agent's own items, on its topic", () => {
    const items = new Set(agent.iot_items.map((item) => item["iot_gateway.IOT_ITEM_SERVER_TAG"]));
    for (const { topic, payload } of recorded) {
      expect(topic).toBe(agent["iot_gateway.MQTT_CLIENT_TOPIC"]);
      const message = payload as { timestamp: number; values: Record<string, unknown>[] };
      expect(Object.keys(message)).toEqual(["timestamp", "values"]);
      expect(Number.isInteger(message.timestamp)).toBe(true);
      for (const value of message.values) {
        expect(Object.keys(value)).toEqual(["id", "v", "q", "t"]);
        expect(items.has(value.id)).toBe(true);
        expect(typeof value.q).toBe("boolean");
        expect(value.t as number).toBeLessThanOrEqual(message.timestamp);
      }
    }
  });
});

describe("Ignition kit", () => {
  const code = read("integrations/ignition/script-python/shopfloor_bridge/code.py");
  const udt = JSON.parse(read("integrations/ignition/udt/ShopfloorMachine.json")) as {
    tagType: string;
    name: string;
    parameters: Record<string, unknown>;
    tags: { name: string; dataType: string }[];
  };
  const tuple = (name: string) =>
    [...(new RegExp(`^${name} = [^\\n]*`, "m").exec(code)?.[0] ?? "").matchAll(/"(\w+)"/g)].map((m) => m[1]);

  it("the UDT has every member the script reads", () => {
    expect(udt).toMatchObject({ tagType: "UdtType", name: "ShopfloorMachine" });
    const members = new Set(udt.tags.map((tag) => tag.name));
    const readByScript = [...tuple("COUNT_MEMBERS"), "State", "Order", ...tuple("CONTEXT_MEMBERS")];
    expect(readByScript.length).toBeGreaterThan(6);
    for (const member of readByScript) expect(members.has(member as string), member).toBe(true);
    expect(Object.keys(udt.parameters).sort()).toEqual(["Device", "PlcPrefix", "Source"]);
  });

  it("the script publishes tag changes where the preset listens, events where the connection subscribes", () => {
    const tagsPrefix = /"tags_prefix": "([^"]+)"/.exec(code)?.[1];
    const eventsPrefix = /"events_prefix": "([^"]+)"/.exec(code)?.[1];
    expect(topicMatches(preset("ignition_tag_change").match, `${tagsPrefix}/plant1/line1/press-01`)).toBe(true);
    expect(eventsPrefix).toBe("shopfloor");
    for (const { topic } of readRecorded("integrations/ignition/recorded/tag-changes.jsonl")) {
      expect(topicMatches(preset("ignition_tag_change").match, topic)).toBe(true);
    }
    for (const { topic } of readRecorded("integrations/ignition/recorded/events.jsonl")) {
      expect(topicMatches("shopfloor/#", topic)).toBe(true);
    }
  });
});
