// The sidecar's side of the one error table (schemas/rpc_errors.json; the
// module's side is tests/test_rpc_errors.py): every code the table has is one
// the sidecar knows how to act on, and the way a server error is read.
import { describe, expect, it } from "vitest";
import {
  actionOf,
  codeOfHttpStatus,
  codeOfServerError,
  ERROR_TABLE,
  type ErrorCode,
  transportFailure,
} from "./errors.ts";

/** Every code of ErrorCode; `unreachable` is the sidecar's own (nothing reached Odoo). */
const SIDECAR_CODES: readonly ErrorCode[] = [
  "retry",
  "busy",
  "batch_too_large",
  "item_rejected",
  "bad_request",
  "forbidden",
  "not_found",
  "auth",
  "unreachable",
];

describe("the shared error table", () => {
  it("has exactly the codes the sidecar acts on (besides its own `unreachable`), each with a known action", () => {
    expect(Object.keys(ERROR_TABLE.codes).sort()).toEqual(SIDECAR_CODES.filter((c) => c !== "unreachable").sort());
    for (const code of SIDECAR_CODES) {
      expect(["retry_whole", "retry_smaller", "split", "bisect", "config"]).toContain(actionOf(code));
    }
    expect(Object.keys(ERROR_TABLE.codes)).toContain(ERROR_TABLE.default);
  });

  it("reads the module's code first, then the exception class the table names, then the default", () => {
    expect(
      codeOfServerError({ name: "odoo.exceptions.UserError", context: { shopfloor_code: "batch_too_large" } }),
    ).toBe("batch_too_large");
    expect(codeOfServerError({ name: "psycopg2.errors.SerializationFailure", context: {} })).toBe("retry");
    expect(codeOfServerError({ name: "odoo.exceptions.AccessError" })).toBe("forbidden");
    // A code the table does not have is not trusted; nor is a message that looks like a known error.
    expect(codeOfServerError({ name: "builtins.KeyError", context: { shopfloor_code: "explode" } })).toBe(
      "item_rejected",
    );
    expect(codeOfServerError(undefined)).toBe("item_rejected");
  });

  it("codes transport failures by what happened, not by message text", () => {
    expect(codeOfHttpStatus(413)).toBe("batch_too_large");
    expect([502, 503, 504, 500].map(codeOfHttpStatus)).toEqual(["busy", "busy", "busy", "busy"]);
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    expect(transportFailure("POST /jsonrpc", refused).code).toBe("unreachable");
    const reset = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
    expect(transportFailure("POST /jsonrpc", reset).code).toBe("busy");
    expect(transportFailure("POST /jsonrpc", new DOMException("timed out", "TimeoutError")).code).toBe("busy");
  });

  it("a TLS handshake with ODOO_URL that failed on a setting: unreachable (sent again whole), saying what to fix", () => {
    const failed = (code: string) =>
      transportFailure("POST /jsonrpc", Object.assign(new TypeError("fetch failed"), { cause: { code } }));
    for (const [code, said] of [
      ["ERR_SSL_WRONG_VERSION_NUMBER", /https:\/\/ but the port answers without TLS/],
      ["SELF_SIGNED_CERT_IN_CHAIN", /NODE_EXTRA_CA_CERTS/],
      ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", /not signed by a CA this machine trusts/],
      ["ERR_TLS_CERT_ALTNAME_INVALID", /does not name the host of ODOO_URL/],
      ["CERT_HAS_EXPIRED", /outside its validity dates/],
    ] as const) {
      expect(failed(code).code).toBe("unreachable");
      expect(failed(code).message).toMatch(said);
      expect(failed(code).message).toContain(code);
    }
  });
});
