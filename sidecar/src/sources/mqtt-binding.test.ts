// What an MQTT message becomes, read against an encoder nobody here wrote: the
// CloudEvents JavaScript SDK's MQTT binding (`cloudevents` on npm) writes
// binary mode (MQTT 5 user properties and Content Type) and structured mode;
// the source's reading of each must be the event the SDK was given. Then the
// cases around them, by name.
import { CloudEvent, MQTT } from "cloudevents";
import fc from "fast-check";
import type { IPublishPacket } from "mqtt";
import { describe, expect, it } from "vitest";
import type { Intake } from "../core/ports.ts";
import { mqttIntake } from "./mqtt-binding.ts";

const at = new Date("2026-01-01T00:00:00Z");
type Packet = Pick<IPublishPacket, "properties" | "payload" | "topic">;

/**
 * An MQTT 5 PUBLISH as the SDK's message would travel: the user properties
 * (undefined ones not sent), the Content Type, the payload as bytes (the SDK
 * leaves a JSON body as the object; a publisher sends its JSON text).
 */
function asPacket(message: { PUBLISH?: Record<string, string | undefined>; headers: object; body: unknown }): Packet {
  const userProperties: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers)) if (v !== undefined) userProperties[k] = String(v);
  const body = message.body;
  const payload = typeof body === "string" ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const contentType = message.PUBLISH?.["Content Type"];
  return {
    topic: "plant/line1",
    payload,
    properties: { userProperties, ...(contentType === undefined ? {} : { contentType }) },
  };
}

function json(intake: Intake): Record<string, unknown> {
  if (intake.kind !== "raw") throw new Error(`expected a raw intake, got ${intake.kind}: ${JSON.stringify(intake)}`);
  return JSON.parse(Buffer.from(intake.payload).toString("utf8"));
}

const RESERVED = new Set(["data", "data_base64", "specversion", "datacontenttype", "id", "source", "type", "time"]);
const extensionName = fc.stringMatching(/^[a-z0-9]{1,20}$/).filter((n) => !RESERVED.has(n));
const sdkEvent = fc.record({
  id: fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/),
  source: fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9-]{1,12}){0,3}$/),
  type: fc.constantFrom("production.reported", "downtime.started", "quality.result", "workorder.completed"),
  time: fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }),
  subject: fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined }),
  data: fc.dictionary(fc.stringMatching(/^[a-z_]{1,12}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
  extensions: fc.dictionary(extensionName, fc.string({ maxLength: 30 }), { maxKeys: 4 }),
});
type SdkEvent = typeof sdkEvent extends fc.Arbitrary<infer T> ? T : never;

function make(e: SdkEvent): CloudEvent<unknown> {
  return new CloudEvent(
    {
      id: e.id,
      source: e.source,
      type: e.type,
      time: e.time.toISOString(),
      datacontenttype: "application/json",
      ...(e.subject === undefined ? {} : { subject: e.subject }),
      ...e.extensions,
      data: e.data,
    },
    false,
  );
}

describe("MQTT binding against the CloudEvents SDK's MQTT encoder", () => {
  it("binary mode (MQTT 5 user properties): the message the SDK writes reads back as the SDK's event", () => {
    fc.assert(
      fc.property(sdkEvent, (e) => {
        const event = make(e);
        expect(json(mqttIntake(asPacket(MQTT.binary(event)), at))).toEqual(JSON.parse(JSON.stringify(event.toJSON())));
      }),
      { numRuns: 200 },
    );
  });

  it("structured mode: the message the SDK writes goes on as its bytes, which are the SDK's event", () => {
    fc.assert(
      fc.property(sdkEvent, (e) => {
        const event = make(e);
        const packet = asPacket(MQTT.structured(event));
        const intake = mqttIntake(packet, at);
        expect(intake.kind === "raw" && Buffer.from(intake.payload).equals(packet.payload as Buffer)).toBe(true);
        expect(json(intake)).toEqual(JSON.parse(JSON.stringify(event.toJSON())));
      }),
      { numRuns: 100 },
    );
  });
});

describe("mqttIntake", () => {
  const binary = (userProperties: Record<string, string | string[]>, payload: string, contentType?: string) =>
    mqttIntake(
      {
        topic: "t",
        payload: Buffer.from(payload),
        properties: { userProperties, ...(contentType ? { contentType } : {}) },
      },
      at,
    );
  const base = { specversion: "1.0", id: "e-1", source: "plant/press-1", type: "production.reported" };

  it("takes an MQTT 3.1.1 message (no properties) as the bytes that came", () => {
    const intake = mqttIntake({ topic: "t", payload: Buffer.from('{"a":1}') }, at);
    expect(intake).toEqual({
      kind: "raw",
      payload: Buffer.from('{"a":1}'),
      origin: "t",
      receivedAt: at,
      via: { transport: "mqtt" },
    });
  });

  it("keeps user properties that cannot be attributes as headers, out of the event", () => {
    const intake = binary({ ...base, "X-Line": "3" }, '{"qty_good":2.50}', "application/json");
    expect(Buffer.from((intake as { payload: Uint8Array }).payload).toString()).toBe(
      '{"specversion":"1.0","id":"e-1","source":"plant/press-1","type":"production.reported","datacontenttype":"application/json","data":{"qty_good":2.50}}',
    );
    expect(intake.kind === "raw" && intake.via?.headers?.["X-Line"]).toBe("3");
  });

  it("rejects an attribute sent twice, naming the user property", () => {
    const intake = binary({ ...base, id: ["a", "b"] }, "{}", "application/json");
    expect(intake.kind === "rejected" && intake.reason).toContain("user property id: sent more than once");
  });

  it("rejects a datacontenttype property that contradicts the Content Type, naming both", () => {
    const intake = binary({ ...base, datacontenttype: "text/plain" }, "{}", "application/json");
    expect(intake.kind === "rejected" && intake.reason).toContain(
      "user property datacontenttype says text/plain but the Content Type property says application/json",
    );
  });

  it("rejects a payload that is not JSON, the bytes kept as data_base64", () => {
    const intake = binary(base, "\u0000oops", "application/json");
    expect(intake.kind).toBe("rejected");
    const stored = JSON.parse(Buffer.from((intake as { payload: Uint8Array }).payload).toString());
    expect(Buffer.from(stored.data_base64, "base64").toString()).toBe("\u0000oops");
  });
});
