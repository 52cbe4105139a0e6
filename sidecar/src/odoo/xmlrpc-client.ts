// OdooClient over XML-RPC (`/xmlrpc/2/common` + `execute_kw`), with an API
// key as the password. The xmlrpc package's serializer and deserializer do
// the XML; transport is fetch, so every call has a timeout (the package's
// own client has none, and a hung Odoo must not hang delivery).
import { createRequire } from "node:module";
import { PassThrough } from "node:stream";
import type { HeartbeatReply, IngestItem, IngestResult, SidecarConfig } from "../core/contract.ts";
import type { DispatchAck, DispatchMessage, OdooClient } from "../core/ports.ts";
import { OdooAuthError, OdooFault, OdooTransportError } from "./errors.ts";

export interface XmlRpcOdooOptions {
  url: string;
  db: string;
  user: string;
  /** API key (or password). */
  apiKey: string;
  timeoutMs?: number;
}

export { OdooAuthError, OdooFault, OdooTransportError } from "./errors.ts";

interface Deserializer {
  deserializeMethodResponse(stream: NodeJS.ReadableStream, cb: (err: unknown, value: unknown) => void): void;
}
// The package's serializer/deserializer modules are CommonJS without types.
const require = createRequire(import.meta.url);
const DeserializerClass = require("xmlrpc/lib/deserializer.js") as new (encoding?: string) => Deserializer;
const serializer = require("xmlrpc/lib/serializer.js") as {
  serializeMethodCall(method: string, params: unknown[], encoding?: string): string;
};

export class XmlRpcOdooClient implements OdooClient {
  readonly #opts: XmlRpcOdooOptions;
  #uid: number | undefined;
  /** Last round trip (local send/receive, server time), for the clock offset. */
  onServerTime?: (trip: { sentAt: number; receivedAt: number; serverTime: number }) => void;

  constructor(opts: XmlRpcOdooOptions) {
    this.#opts = opts;
  }

  async #call(path: "common" | "object", method: string, params: unknown[]): Promise<unknown> {
    const body = serializer.serializeMethodCall(method, params, "utf8");
    let text: string;
    try {
      const res = await fetch(`${this.#opts.url.replace(/\/$/, "")}/xmlrpc/2/${path}`, {
        method: "POST",
        headers: { "content-type": "text/xml; charset=utf-8" },
        body,
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 60_000),
      });
      text = await res.text();
      if (!res.ok) throw new OdooTransportError(`HTTP ${res.status} from ${path}.${method}: ${text.slice(0, 200)}`);
    } catch (err) {
      if (err instanceof OdooTransportError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const cause = e.cause ? ` (${e.cause.code ?? e.cause.message})` : "";
      throw new OdooTransportError(`${path}.${method}: ${e.message}${cause}`);
    }
    return new Promise((resolve, reject) => {
      const stream = new PassThrough();
      new DeserializerClass("utf8").deserializeMethodResponse(stream, (err, value) => {
        if (!err) return resolve(value);
        const fault = err as { faultString?: string; faultCode?: unknown; message?: string };
        if (fault.faultString !== undefined) reject(new OdooFault(fault.faultString, fault.faultCode));
        else reject(new OdooTransportError(`unreadable answer to ${method}: ${fault.message ?? String(err)}`));
      });
      stream.end(text);
    });
  }

  async uid(): Promise<number> {
    if (this.#uid !== undefined) return this.#uid;
    const o = this.#opts;
    const uid = await this.#call("common", "authenticate", [o.db, o.user, o.apiKey, {}]);
    if (typeof uid !== "number" || uid <= 0) {
      throw new OdooAuthError(`Odoo refused login "${o.user}" on database "${o.db}" (check ODOO_USER / ODOO_API_KEY)`);
    }
    this.#uid = uid;
    return uid;
  }

  async execute(
    model: string,
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ): Promise<unknown> {
    const uid = await this.uid();
    return this.#call("object", "execute_kw", [this.#opts.db, uid, this.#opts.apiKey, model, method, args, kwargs]);
  }

  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    const results = (await this.execute("shopfloor.event", "ingest", [items])) as IngestResult[];
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new OdooFault(
        `ingest answered ${Array.isArray(results) ? results.length : typeof results} results for ${items.length} items`,
        "contract",
      );
    }
    return results;
  }

  async sidecarConfig(code: string): Promise<SidecarConfig> {
    const sentAt = Date.now();
    const config = (await this.execute("shopfloor.connection", "sidecar_config", [code])) as SidecarConfig;
    this.#serverTime(sentAt, config.server_time);
    return config;
  }

  async heartbeat(code: string, stats: Record<string, unknown>): Promise<HeartbeatReply> {
    const sentAt = Date.now();
    const reply = (await this.execute("shopfloor.connection", "heartbeat", [code, stats])) as HeartbeatReply;
    this.#serverTime(sentAt, reply.server_time);
    return reply;
  }

  #serverTime(sentAt: number, serverTime: unknown): void {
    const receivedAt = Date.now();
    const parsed = typeof serverTime === "string" ? parseOdooTime(serverTime) : Number.NaN;
    if (!Number.isNaN(parsed)) this.onServerTime?.({ sentAt, receivedAt, serverTime: parsed });
  }

  async dispatchPull(code: string, limit: number): Promise<DispatchMessage[]> {
    return (await this.execute("shopfloor.dispatch", "pull", [code, limit])) as DispatchMessage[];
  }

  async dispatchAck(results: DispatchAck[]): Promise<boolean> {
    return (await this.execute("shopfloor.dispatch", "ack", [results])) as boolean;
  }
}

/** Odoo sends UTC either as ISO 8601 or as its own "YYYY-MM-DD HH:MM:SS[.ffffff]" (naive UTC). */
export function parseOdooTime(text: string): number {
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`;
  return Date.parse(iso);
}
