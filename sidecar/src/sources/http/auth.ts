// Bearer tokens of the HTTP intake. Odoo keeps only each producer's token
// hash (SHA-256, hex) and sends that; the sidecar hashes what a request
// presents and compares it with every producer's hash in constant time, so
// neither the token nor which producer it nearly matched leaks through timing.
// A token is never logged, stored or echoed.
import { createHash, timingSafeEqual } from "node:crypto";
import type { HttpProducer } from "../../core/contract.ts";

export interface KnownProducer {
  name: string;
  sourcePrefix: string;
}

export type AuthResult =
  | { ok: true; producer: KnownProducer }
  /** `missing`: no bearer token; `unknown`: a token no producer has. */
  | { ok: false; why: "missing" | "unknown"; reason: string };

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export class ProducerAuth {
  readonly #producers: { digest: Buffer; producer: KnownProducer }[] = [];
  /** Producers left out because Odoo sent no usable hash for them (named in the log at start). */
  readonly invalid: string[] = [];

  constructor(producers: readonly HttpProducer[]) {
    for (const p of producers) {
      // Odoo sends false for a producer that never had a token (it leaves those out; an older one may not).
      const hash = typeof p.token_sha256 === "string" ? p.token_sha256.trim().toLowerCase() : "";
      if (!SHA256_HEX.test(hash)) {
        this.invalid.push(p.name);
        continue;
      }
      this.#producers.push({
        digest: Buffer.from(hash, "hex"),
        producer: { name: p.name, sourcePrefix: p.source_prefix ?? "" },
      });
    }
  }

  get size(): number {
    return this.#producers.length;
  }

  /** Reads `Authorization: Bearer <token>` (RFC 6750) and finds its producer. */
  authenticate(authorization: string | undefined): AuthResult {
    const match = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(authorization ?? "");
    if (!match) {
      return {
        ok: false,
        why: "missing",
        reason: authorization
          ? "the Authorization header is not a bearer token (Authorization: Bearer <token>)"
          : "no Authorization header: send Authorization: Bearer <token> (the token of a producer configured in Odoo)",
      };
    }
    const presented = createHash("sha256")
      .update(match[1] as string, "utf8")
      .digest();
    let found: KnownProducer | undefined;
    // Every hash is compared, whatever matched first.
    for (const entry of this.#producers) {
      if (timingSafeEqual(entry.digest, presented) && !found) found = entry.producer;
    }
    if (found) return { ok: true, producer: found };
    return {
      ok: false,
      why: "unknown",
      reason: "the bearer token belongs to no producer of this connection (check the producer in Odoo)",
    };
  }
}
