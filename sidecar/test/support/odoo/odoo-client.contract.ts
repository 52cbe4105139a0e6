// The one contract every OdooClient runs against a real Odoo with the module.
import { describe, expect, it } from "vitest";
import type { CloudEvent, RejectedInput } from "../../../src/core/contract.ts";
import type { OdooClient } from "../../../src/core/ports.ts";

export interface OdooClientHarness {
  /** A client logged in as the integration user. */
  client(): OdooClient;
  /** A client with a wrong key. */
  badKeyClient(): OdooClient;
  code: string;
  /** The stored shopfloor.event row (read as an administrator). */
  stored(eventId: number): Promise<Record<string, unknown>>;
}

/**
 * Every kind of text the floor can send. PostgreSQL stores all but NUL and
 * lone surrogates as they are; those two are stored escaped, with the item
 * kept exactly in raw_b64.
 */
export const ANY_TEXT: Record<string, { text: string; storable: boolean }> = {
  c0Controls: { text: Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(""), storable: true },
  del: { text: "a\u007fb", storable: true },
  nonCharacters: { text: "\ufffe\uffff\ufdd0", storable: true },
  lineEnds: { text: "one\r\ntwo\rthree\nfour", storable: true },
  emoji4k: { text: "🏭".repeat(2048), storable: true },
  bom: { text: "\ufeffstart", storable: true },
  nulPadded: { text: "WH/MO/00042\u0000\u0000\u0000", storable: false },
  loneHigh: { text: "x\ud800y", storable: false },
  loneLow: { text: "\udfffz", storable: false },
};

export function odooClientContract(name: string, harness: () => OdooClientHarness): void {
  describe(`OdooClient contract: ${name}`, () => {
    const uid = Math.random().toString(36).slice(2, 8);
    const event = (n: number): CloudEvent => ({
      specversion: "1.0",
      id: `contract-${uid}-${n}`,
      source: "contract/press-1",
      type: "quality.result",
      time: "2026-11-22T08:00:00.000Z",
      data: { characteristic: "diameter", pass: true, value: 10.01 },
    });
    const rejected: RejectedInput = {
      rejected: true,
      id: `rej-contract-${uid}`,
      source: "shopfloor/contract",
      connection: "",
      raw_b64: Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString("base64"),
      raw_size: 4,
      truncated: false,
      reason: "payload is not valid UTF-8",
      observedtime: "2026-11-22T08:00:01.000Z",
    };

    it("ingest answers one result per item, in order, and a resend is a duplicate of the same row", async () => {
      const h = harness();
      const client = h.client();
      const items = [
        { ...event(1), connection: h.code },
        { ...rejected, connection: h.code },
        { ...event(2), connection: h.code },
      ];
      const first = await client.ingest(items);
      expect(first.map((r) => [r.source, r.id])).toEqual(items.map((i) => [i.source, i.id]));
      for (const r of first) {
        expect(r.event_id).toBeGreaterThan(0);
        expect(typeof r.error).toBe("string");
      }
      expect(first[1]?.status).toBe("rejected");
      expect(first[0]?.status).not.toBe("duplicate");
      expect(first[0]?.status).not.toBe("rejected");
      const again = await client.ingest(items);
      expect(again.map((r) => r.status)).toEqual(["duplicate", "duplicate", "duplicate"]);
      expect(again.map((r) => r.event_id)).toEqual(first.map((r) => r.event_id));
      expect(await client.ingest([])).toEqual([]);
    });

    it("carries every kind of text the floor sends: stored byte for byte, or escaped with the item kept in raw_b64", async () => {
      const h = harness();
      const items = Object.entries(ANY_TEXT).map(([name, { text }]) => ({
        ...event(100 + Object.keys(ANY_TEXT).indexOf(name)),
        connection: h.code,
        id: `text-${uid}-${name}`,
        data: { characteristic: text, pass: true, note: text },
      }));
      const results = await h.client().ingest(items);
      expect(results).toHaveLength(items.length);
      for (const [i, [name, { storable }]] of Object.entries(ANY_TEXT).entries()) {
        const item = items[i] as CloudEvent;
        const result = results[i];
        expect(result?.event_id, name).toBeGreaterThan(0);
        const row = await h.stored(result?.event_id as number);
        if (storable) {
          expect(JSON.parse(row.data_json as string), name).toEqual(item.data);
          expect(row.event_uid, name).toBe(item.id);
        } else {
          expect(typeof row.raw_b64 === "string" && row.raw_b64.length > 0, `${name} keeps raw_b64`).toBe(true);
          const original = JSON.parse(Buffer.from(row.raw_b64 as string, "base64").toString("utf8"));
          expect(original, name).toMatchObject({ id: item.id, source: item.source, data: item.data });
        }
      }
      // A resend of the same items is a duplicate of the same rows, whatever their text.
      const again = await h.client().ingest(items);
      expect(again.map((r) => r.status)).toEqual(items.map(() => "duplicate"));
      expect(again.map((r) => r.event_id)).toEqual(results.map((r) => r.event_id));
    });

    it("sidecarConfig returns the connection with its revision and the server time", async () => {
      const h = harness();
      const config = await h.client().sidecarConfig(h.code);
      expect(config.code).toBe(h.code);
      expect(Number.isInteger(config.revision)).toBe(true);
      expect(Number.isNaN(Date.parse(config.server_time.replace(" ", "T")))).toBe(false);
      expect(config.batch.size).toBeGreaterThan(0);
    });

    it("heartbeat answers the server time and the revision", async () => {
      const h = harness();
      const reply = await h.client().heartbeat(h.code, { version: "contract", spool_depth: 3 });
      const config = await h.client().sidecarConfig(h.code);
      expect(reply.revision).toBe(config.revision);
      expect(typeof reply.server_time).toBe("string");
    });

    it("refuses a wrong key and an unknown connection with clear errors", async () => {
      const h = harness();
      await expect(h.badKeyClient().sidecarConfig(h.code)).rejects.toThrow(/refused login/);
      await expect(h.client().sidecarConfig("no-such-connection")).rejects.toThrow(/No active shop-floor connection/);
    });
  });
}
