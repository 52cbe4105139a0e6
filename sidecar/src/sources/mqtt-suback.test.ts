// What the MQTT source makes of a SUBACK: which filters the broker refused, and why.
import { describe, expect, it } from "vitest";
import { refusedSubscriptions } from "./mqtt.ts";

describe("refusedSubscriptions: a SUBACK's failure codes", () => {
  it("names each refused filter with the broker's reason, in the order sent", () => {
    const sent = [{ topic: "ok/#" }, { topic: "secret/#" }, { topic: "$share/g/x" }, { topic: "odd/#" }];
    expect(refusedSubscriptions(sent, [1, 0x87, 0x9e, 0xa9])).toEqual([
      'the broker refused topic filter "secret/#" (SUBACK 0x87: not authorized)',
      'the broker refused topic filter "$share/g/x" (SUBACK 0x9E: shared subscriptions not supported)',
      'the broker refused topic filter "odd/#" (SUBACK 0xA9: refused)',
    ]);
    expect(refusedSubscriptions(sent, [0, 1, 2, 1])).toEqual([]);
    expect(refusedSubscriptions(undefined, [0x80])).toEqual([]);
    expect(refusedSubscriptions(sent, undefined)).toEqual([]);
  });
});
