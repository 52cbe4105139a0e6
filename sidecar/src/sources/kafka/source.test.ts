// The connection's backbone settings → Kafka source options, and the field
// each bad setting names (no broker here: kafka.int.test.ts has one).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BackboneConfig, SidecarConfig } from "../../core/contract.ts";
import { asConfigError } from "../../main.ts";
import { BackboneConfigError } from "./errors.ts";
import { brokerAddress, kafkaOptionsFromConfig, newRecords, parseBrokers } from "./source.ts";

const backbone: BackboneConfig = {
  url: "kafka1:9092,kafka2:9092",
  names: ["plant-events", " "],
  group: "sfb-plant",
  consumer: "",
  username: "",
  password: "",
  tls: false,
  ca: "",
  reject_unauthorized: true,
  client_cert: "",
  client_key: "",
  prefetch: 0,
  sasl_mechanism: "",
  claim_idle_ms: 0,
};
const config = (over: Partial<BackboneConfig> = {}) =>
  ({ code: "line1", kind: "kafka", backbone: { ...backbone, ...over } }) as unknown as SidecarConfig;

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof BackboneConfigError) return err.field;
    throw err;
  }
  return undefined;
}

describe("kafkaOptionsFromConfig", () => {
  it("maps the backbone fields, with defaults for prefetch, session timeout and client id", () => {
    const opts = kafkaOptionsFromConfig(config());
    expect(opts).toMatchObject({
      brokers: ["kafka1:9092", "kafka2:9092"],
      topics: ["plant-events"],
      groupId: "sfb-plant",
      prefetch: 500,
      sessionTimeoutMs: 10_000,
    });
    expect(opts.clientId).toMatch(/^sfb-/);
    expect(opts.tls).toBeUndefined();
    expect(opts.sasl).toBeUndefined();
  });

  it("maps SASL mechanisms to the client's names", () => {
    for (const [field, name] of [
      ["plain", "PLAIN"],
      ["scram-sha-256", "SCRAM-SHA-256"],
      ["scram-sha-512", "SCRAM-SHA-512"],
    ] as const) {
      const opts = kafkaOptionsFromConfig(config({ sasl_mechanism: field, username: "u", password: "p" }));
      expect(opts.sasl).toEqual({ mechanism: name, username: "u", password: "p" });
    }
  });

  it("names the field of each setting that cannot work", () => {
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ names: [] })))).toBe("backbone_names");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ group: " " })))).toBe("backbone_group");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ url: "http://kafka:9092" })))).toBe("backbone_url");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ sasl_mechanism: "plain" })))).toBe("backbone_username");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ ca: "x" })))).toBe("backbone_tls");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ tls: true, ca: "not pem" })))).toBe("backbone_ca");
    expect(fieldOf(() => kafkaOptionsFromConfig(config({ tls: true, client_cert: "x" })))).toBe("backbone_client_key");
    const none = { code: "line1", kind: "kafka", backbone: false } as unknown as SidecarConfig;
    expect(fieldOf(() => kafkaOptionsFromConfig(none))).toBe("backbone_url");
  });

  it("warns when a user name is set without a SASL mechanism", () => {
    const logs: string[] = [];
    kafkaOptionsFromConfig(config({ username: "u" }), (_level, message) => logs.push(message));
    expect(logs.join()).toContain("backbone_sasl_mechanism is empty");
  });

  it("becomes the sidecar's ConfigError of that field", () => {
    const err = asConfigError(new BackboneConfigError("backbone_names", "no topic x"), config(), {} as never);
    expect((err as { key: string }).key).toBe("backbone_names");
    expect((err as Error).message).toContain("connection line1 in Odoo");
  });
});

describe("parseBrokers", () => {
  it("takes host:port lists with commas or blanks, IPv6 in brackets, a kafka:// prefix", () => {
    expect(parseBrokers(" a:1, b:2\nkafka://c:3 [::1]:9092")).toEqual(["a:1", "b:2", "c:3", "[::1]:9092"]);
  });

  it("reads an entry's host (IPv6 without its brackets) and port, for the listener probe", () => {
    expect(brokerAddress("[::1]:9092")).toEqual({ host: "::1", port: 9092 });
    expect(brokerAddress("kafka1:9093")).toEqual({ host: "kafka1", port: 9093 });
    expect(brokerAddress("kafka1")).toBeUndefined();
  });

  it("throws naming backbone_url for anything that is not host:port, and never anything else", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const brokers = parseBrokers(text);
          for (const b of brokers) expect(b).toMatch(/:\d{1,5}$/);
        } catch (err) {
          expect(err).toBeInstanceOf(BackboneConfigError);
          expect((err as BackboneConfigError).field).toBe("backbone_url");
        }
      }),
    );
  });

  it("regression: port 0 and ports above 65535 are refused", () => {
    expect(fieldOf(() => parseBrokers("a:0"))).toBe("backbone_url");
    expect(fieldOf(() => parseBrokers("a:65536"))).toBe("backbone_url");
  });
});

describe("newRecords: what a batch hands over", () => {
  const r = (partition: number, offset: number) => ({ topic: "t", partition, offset: BigInt(offset) });
  const offsets = (records: { partition: number; offset: bigint }[]) =>
    records.map((x) => `${x.partition}@${x.offset}`);

  it("regression: a record read again by a rejoin while its first copy waits in the same batch is taken once", () => {
    // The buffer held 0..2 of partition 0 when the group rejoined; the stream read them again from the commit.
    const batch = [r(0, 0), r(0, 1), r(0, 2), r(1, 5), r(0, 0), r(0, 1), r(0, 2), r(0, 3)];
    const { fresh, again } = newRecords(batch, new Map());
    expect(offsets(fresh)).toEqual(["0@0", "0@1", "0@2", "1@5", "0@3"]);
    expect(again).toBe(3);
  });

  it("skips what was handed over already and what belongs to a partition this member lost", () => {
    const { fresh, again } = newRecords(
      [r(0, 3), r(0, 4), r(1, 0), r(2, 9)],
      new Map([["t:0", 4n]]),
      new Set(["t:0", "t:2"]),
    );
    expect(offsets(fresh)).toEqual(["0@4", "2@9"]);
    expect(again).toBe(1);
  });

  it("hands each offset of each partition at most once, in the order read, whatever the copies", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 30 })), { maxLength: 60 }),
        fc.dictionary(fc.constantFrom("t:0", "t:1", "t:2"), fc.integer({ min: 0, max: 30 })),
        (pairs, handedAt) => {
          const batch = pairs.map(([partition, offset]) => r(partition, offset));
          const handed = new Map(Object.entries(handedAt).map(([k, v]) => [k, BigInt(v)]));
          const { fresh, again } = newRecords(batch, handed);
          expect(fresh.length + again).toBe(batch.length);
          for (const partition of [0, 1, 2]) {
            const taken = fresh.filter((x) => x.partition === partition).map((x) => x.offset);
            // Strictly increasing per partition, and never below what was handed before.
            for (let i = 1; i < taken.length; i++) expect(taken[i] as bigint).toBeGreaterThan(taken[i - 1] as bigint);
            const floor = handed.get(`t:${partition}`);
            if (floor !== undefined) for (const offset of taken) expect(offset).toBeGreaterThanOrEqual(floor);
          }
        },
      ),
    );
  });
});
