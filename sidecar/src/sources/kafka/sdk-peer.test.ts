// The Kafka binding read against an encoder nobody here wrote: the CloudEvents
// JavaScript SDK's Kafka binding (`cloudevents` on npm) writes binary-mode
// records (ce_ headers, data as the value) and structured-mode records; the
// source's reading of each must be the event the SDK was given.
import { CloudEvent, Kafka } from "cloudevents";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { recordIntakes } from "./binding.ts";

const at = new Date("2026-01-01T00:00:00Z");

/**
 * A Kafka record as the SDK's message would travel: every header and the
 * value as bytes. The SDK's binary mode leaves a JSON `data` as the object
 * (a Kafka producer takes bytes): serialized here as its content type says.
 */
function asRecord(message: { headers: Record<string, unknown>; value: unknown }) {
  const headers = Object.entries(message.headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [Buffer.from(k), Buffer.from(String(v))] as [Uint8Array, Uint8Array]);
  const value =
    typeof message.value === "string"
      ? Buffer.from(message.value)
      : Buffer.isBuffer(message.value)
        ? message.value
        : Buffer.from(JSON.stringify(message.value));
  return { topic: "plant.events", headers, value };
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
  extensions: fc.dictionary(extensionName, fc.stringMatching(/^[ -~]{0,30}$/), { maxKeys: 4 }),
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

/** What the source hands the pipeline, as JSON. */
function read(message: { headers: Record<string, unknown>; value: unknown }): Record<string, unknown> {
  const intakes = recordIntakes(asRecord(message), at);
  expect(intakes).toHaveLength(1);
  const [intake] = intakes;
  if (intake?.kind !== "raw") throw new Error(`expected a raw intake, got ${intake?.kind}`);
  return JSON.parse(Buffer.from(intake.payload).toString("utf8"));
}

describe("Kafka binding against the CloudEvents SDK's Kafka encoder", () => {
  it("binary mode: the record the SDK writes reads back as the SDK's event", () => {
    fc.assert(
      fc.property(sdkEvent, (e) => {
        const event = make(e);
        const got = read(Kafka.binary(event));
        expect(got).toEqual(JSON.parse(JSON.stringify(event.toJSON())));
      }),
      { numRuns: 200 },
    );
  });

  it("structured mode: the record the SDK writes reads back as the SDK's event", () => {
    fc.assert(
      fc.property(sdkEvent, (e) => {
        const event = make(e);
        const got = read(Kafka.structured(event));
        expect(got).toEqual(JSON.parse(JSON.stringify(event.toJSON())));
      }),
      { numRuns: 200 },
    );
  });
});
