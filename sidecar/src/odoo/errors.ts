// How a call to Odoo can fail, whatever the transport (JSON-RPC on Odoo 18,
// JSON-2 on Odoo 19): delivery decides what to do from an error's `code`,
// one of the shared table `schemas/rpc_errors.json` (the module raises the
// same codes), never from its message text.

import { readFileSync } from "node:fs";
import { BROKER_CERT_OUT_OF_DATE, BROKER_NOT_TRUSTED } from "../core/mqtt-tls.ts";

const TABLE_URL = new URL("../../../odoo_addon/shopfloor_bridge/schemas/rpc_errors.json", import.meta.url);

/** What the sidecar does about a code. */
export type ErrorAction = "retry_whole" | "retry_smaller" | "split" | "bisect" | "config";

interface ErrorTable {
  codes: Record<string, { action: ErrorAction; meaning: string; exceptions: string[] }>;
  default: string;
}

export const ERROR_TABLE: ErrorTable = JSON.parse(readFileSync(TABLE_URL, "utf8")) as ErrorTable;

export type ErrorCode =
  | "retry"
  | "busy"
  | "batch_too_large"
  | "item_rejected"
  | "bad_request"
  | "forbidden"
  | "not_found"
  | "auth"
  /** Transport only: Odoo could not be reached at all (refused, no route, DNS). Never counted against an item. */
  | "unreachable";

const BY_EXCEPTION = new Map<string, ErrorCode>(
  Object.entries(ERROR_TABLE.codes).flatMap(([code, row]) => row.exceptions.map((name) => [name, code as ErrorCode])),
);

/** The action for a code; `unreachable` is retried whole like `retry`. */
export function actionOf(code: ErrorCode): ErrorAction {
  if (code === "unreachable") return "retry_whole";
  const row = ERROR_TABLE.codes[code];
  if (!row) throw new Error(`error code ${code} is not in rpc_errors.json`);
  return row.action;
}

/**
 * The code of a server exception as Odoo serializes it (JSON-RPC's
 * `error.data`, JSON-2's error body): the module's own code when it set one
 * (`context.shopfloor_code`), else the code the table gives the exception's
 * class, else the table's default.
 */
export function codeOfServerError(data: { name?: unknown; context?: unknown } | undefined): ErrorCode {
  const context = data?.context;
  if (context && typeof context === "object") {
    const code = (context as Record<string, unknown>).shopfloor_code;
    if (typeof code === "string" && code in ERROR_TABLE.codes) return code as ErrorCode;
  }
  if (typeof data?.name === "string") {
    const known = BY_EXCEPTION.get(data.name);
    if (known) return known;
  }
  return ERROR_TABLE.default as ErrorCode;
}

/** Base of every Odoo call failure: the code decides. */
export abstract class OdooError extends Error {
  abstract readonly code: ErrorCode;
}

/** The call never reached Odoo or its answer never came back. */
export class OdooTransportError extends OdooError {
  override name = "OdooTransportError";
  readonly code: ErrorCode;
  /** HTTP status when Odoo (or a proxy before it) answered with one. */
  readonly status: number | undefined;
  constructor(message: string, code: "unreachable" | "busy" | "batch_too_large" | "auth", status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Odoo answered with an exception raised on the server. */
export class OdooFault extends OdooError {
  override name = "OdooFault";
  readonly code: ErrorCode;
  /** The server exception's class, e.g. `odoo.exceptions.UserError`. */
  readonly exception: string;
  constructor(message: string, code: ErrorCode, exception = "") {
    super(message);
    this.code = code;
    this.exception = exception;
  }
}

/** Authentication refused: a configuration fault (wrong user, key or database). */
export class OdooAuthError extends OdooError {
  override name = "OdooAuthError";
  readonly code = "auth" as const;
}

/**
 * Odoo answered, but not what the contract promises (not JSON, a result of
 * the wrong shape or length): the whole answer is unusable, so the call
 * counts as failed for every item in it.
 */
export class OdooContractError extends OdooError {
  override name = "OdooContractError";
  readonly code = "busy" as const;
}

/** The code of any error thrown by a call (an unknown error counts as `busy`: retried smaller). */
export function codeOf(error: unknown): ErrorCode {
  return error instanceof OdooError ? error.code : "busy";
}

/** Node's fetch errors that mean nothing reached Odoo: its failure says nothing about the batch. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/**
 * HTTP status → code for an answer that is not the RPC's own: a proxy's
 * 502/503/504, a worker Odoo killed, a body too large for a proxy.
 */
export function codeOfHttpStatus(status: number): "busy" | "batch_too_large" | "auth" | "unreachable" {
  if (status === 413) return "batch_too_large";
  if (status === 401) return "auth";
  if (status === 404) return "unreachable";
  return "busy";
}

/**
 * A TLS handshake with ODOO_URL that failed for a reason a person fixes in the
 * settings or on the server; nothing reached Odoo. Undefined for anything else.
 */
function tlsFailure(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
    return "ODOO_URL is https:// but the port answers without TLS: name Odoo's HTTPS port, or http:// for a plain one";
  }
  if (BROKER_NOT_TRUSTED.has(code)) {
    return (
      "Odoo's certificate (or its proxy's) is not signed by a CA this machine trusts: give the sidecar that CA " +
      "(NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or NODE_USE_SYSTEM_CA=1 when the CA is in the system's store)"
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return "Odoo's certificate does not name the host of ODOO_URL: use a host name the certificate lists";
  }
  if (BROKER_CERT_OUT_OF_DATE.has(code)) {
    return "Odoo's certificate is outside its validity dates: renew it, or check this machine's clock";
  }
  return undefined;
}

/** A fetch that threw (no answer) → a transport error with its code. */
export function transportFailure(what: string, err: unknown): OdooTransportError {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  const causeCode = error.cause?.code;
  const cause = error.cause ? ` (${causeCode ?? error.cause.message})` : "";
  const tls = tlsFailure(causeCode);
  // Nothing reached Odoo: the batch is sent again whole once the setting is fixed, not split.
  if (tls) return new OdooTransportError(`${what}: ${tls}${cause}`, "unreachable");
  // fetch refuses some ports outright ("bad port"): a wrong ODOO_URL, nothing reached Odoo.
  const unreachable = (causeCode && UNREACHABLE.has(causeCode)) || error.cause?.message === "bad port";
  const code = unreachable ? "unreachable" : "busy";
  return new OdooTransportError(`${what}: ${error.message}${cause}`, code);
}
