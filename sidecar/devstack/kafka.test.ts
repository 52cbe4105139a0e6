import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kafkaClusterId } from "./kafka.ts";

describe("kafkaClusterId", () => {
  // Regression: CI's Kafka suite failed to start once in 64 runs, when the random id
  // began with "-" and kafka-storage's parser took it for an option after `-t`.
  it("never starts with a dash, even when the random bytes give one first", () => {
    const dashFirst = Buffer.alloc(16, 0xf8); // its first 6 bits are 62: "-" in base64url
    expect(dashFirst.toString("base64url").startsWith("-")).toBe(true);
    const plain = Buffer.alloc(16, 0x41); // "QUFB…": a random draw here would start with "-" 1 time in 64
    const draws = [dashFirst, dashFirst, plain];
    const id = kafkaClusterId(() => draws.shift() as Buffer);
    expect(id).toBe(plain.toString("base64url"));
    expect(draws).toHaveLength(0);
  });

  it("property: 16 bytes in base64url (22 characters) that never start with a dash", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 4 }),
        (arrays) => {
          const draws = arrays.map((a) => Buffer.from(a));
          const random = () => draws.shift() ?? randomBytes(16);
          const id = kafkaClusterId(random);
          expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
          expect(Buffer.from(id, "base64url")).toHaveLength(16);
        },
      ),
    );
  });
});
