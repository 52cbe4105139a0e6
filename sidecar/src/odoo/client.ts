// What every transport to Odoo shares: the sidecar API calls, the
// checks on their answers, the server-time round trips for the clock
// offset, and one HTTP POST with a timeout that turns every way of failing
// into an OdooError with a code. A transport supplies `call`.
import type { HeartbeatReply, IngestItem, IngestResult, SidecarConfig } from "../core/contract.ts";
import { answersPlain, answersTls, probeTarget } from "../core/port-probe.ts";
import type { DispatchAck, DispatchMessage, OdooClient, ProbeAnswer, ProbePull } from "../core/ports.ts";
import { codeOfHttpStatus, OdooContractError, OdooTransportError, transportFailure } from "./errors.ts";

export interface OdooConnectionOptions {
  url: string;
  db: string;
  user: string;
  /** API key (or password). */
  apiKey: string;
  timeoutMs?: number;
}

export interface ServerTimeTrip {
  sentAt: number;
  receivedAt: number;
  serverTime: number;
}

/** A parsed JSON answer with its HTTP status. */
export interface HttpAnswer {
  status: number;
  body: unknown;
}

export abstract class BaseOdooClient implements OdooClient {
  protected readonly opts: OdooConnectionOptions;
  /** Last round trip (local send/receive, server time), for the clock offset. */
  onServerTime?: (trip: ServerTimeTrip) => void;

  constructor(opts: OdooConnectionOptions) {
    this.opts = { ...opts, url: opts.url.replace(/\/+$/, "") };
  }

  /** One model method call; `params` names the positional arguments for transports that need names. */
  protected abstract call(model: string, method: string, args: unknown[], params: readonly string[]): Promise<unknown>;

  /**
   * POSTs JSON and parses the JSON answer. Any status is returned to the
   * transport (JSON-2 carries errors in 4xx/5xx); an answer that is not JSON
   * is a transport error coded by its status.
   */
  protected async postJson(path: string, payload: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const what = `POST ${path}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.opts.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", ...headers },
        // JSON.stringify escapes lone surrogates (\udXXX) and every control character,
        // so whatever text the floor sent crosses as valid UTF-8 JSON.
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000),
      });
      text = await res.text();
    } catch (err) {
      throw await portMixup(this.opts.url, what, err, transportFailure(what, err));
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OdooTransportError(
        `HTTP ${res.status} from ${what}, not JSON: ${text.slice(0, 200)}`,
        codeOfHttpStatus(res.status),
        res.status,
      );
    }
    return { status: res.status, body };
  }

  async ingest(items: IngestItem[]): Promise<IngestResult[]> {
    if (items.length === 0) return [];
    const results = await this.call("shopfloor.event", "ingest", [items], ["events"]);
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new OdooContractError(
        `ingest answered ${Array.isArray(results) ? `${results.length} results` : typeof results} for ${items.length} items`,
      );
    }
    return results as IngestResult[];
  }

  async sidecarConfig(code: string): Promise<SidecarConfig> {
    const sentAt = Date.now();
    const config = (await this.call("shopfloor.connection", "sidecar_config", [code], ["code"])) as SidecarConfig;
    if (!config || typeof config !== "object") throw new OdooContractError(`sidecar_config answered ${typeof config}`);
    this.#serverTime(sentAt, config.server_time);
    return config;
  }

  async heartbeat(code: string, stats: Record<string, unknown>): Promise<HeartbeatReply> {
    const sentAt = Date.now();
    const reply = (await this.call(
      "shopfloor.connection",
      "heartbeat",
      [code, stats],
      ["code", "stats"],
    )) as HeartbeatReply;
    if (!reply || typeof reply !== "object") throw new OdooContractError(`heartbeat answered ${typeof reply}`);
    this.#serverTime(sentAt, reply.server_time);
    return reply;
  }

  #serverTime(sentAt: number, serverTime: unknown): void {
    const receivedAt = Date.now();
    const parsed = typeof serverTime === "string" ? parseOdooTime(serverTime) : Number.NaN;
    if (!Number.isNaN(parsed)) this.onServerTime?.({ sentAt, receivedAt, serverTime: parsed });
  }

  async dispatchPull(code: string, limit: number): Promise<DispatchMessage[]> {
    const messages = await this.call("shopfloor.dispatch", "pull", [code, limit], ["code", "limit"]);
    if (!Array.isArray(messages)) throw new OdooContractError(`dispatch pull answered ${typeof messages}`);
    return messages as DispatchMessage[];
  }

  async dispatchAck(results: DispatchAck[]): Promise<boolean> {
    return (await this.call("shopfloor.dispatch", "ack", [results], ["results"])) === true;
  }

  async probePull(code: string, limit: number): Promise<ProbePull> {
    const pulled = (await this.call("shopfloor.probe", "pull", [code, limit], ["code", "limit"])) as ProbePull;
    if (!pulled || typeof pulled !== "object" || !Array.isArray(pulled.requests)) {
      throw new OdooContractError(`probe pull answered ${JSON.stringify(pulled)?.slice(0, 200)}`);
    }
    return pulled;
  }

  async probeAnswer(answers: ProbeAnswer[]): Promise<boolean> {
    return (await this.call("shopfloor.probe", "answer", [answers], ["results"])) === true;
  }
}

/** Odoo sends UTC either as ISO 8601 or as its own "YYYY-MM-DD HH:MM:SS[.ffffff]" (naive UTC). */
export function parseOdooTime(text: string): number {
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`;
  return Date.parse(iso);
}

/** An HTTP/1.0 request any HTTP server answers with a status line. */
const HTTP_HELLO = Buffer.from("HEAD / HTTP/1.0\r\n\r\n");
const httpUnderstood = (first: Buffer): boolean => first.subarray(0, 5).toString("latin1") === "HTTP/";

/**
 * A connection ODOO_URL's port reset: Odoo's own server does so to a TLS hello, and a
 * TLS front to plain HTTP (a worker killed mid-call does too). The port is asked once
 * what it speaks; a mix-up is unreachable (nothing reached Odoo: the batch is sent
 * again whole once ODOO_URL is fixed), anything else stays `described`.
 */
async function portMixup(
  url: string,
  what: string,
  err: unknown,
  described: OdooTransportError,
): Promise<OdooTransportError> {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  if (described.code !== "busy" || !(code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET")) {
    return described;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return described;
  }
  const tls = parsed.protocol === "https:";
  const { host, port } = probeTarget(parsed, tls ? 443 : 80);
  if (tls && (await answersPlain(host, port, HTTP_HELLO, httpUnderstood))) {
    return new OdooTransportError(
      `${what}: ODOO_URL is https:// but ${host}:${port} answers plain HTTP: name Odoo's HTTPS port (its proxy's), ` +
        `or http:// for this one (${code})`,
      "unreachable",
    );
  }
  if (!tls && (await answersTls(host, port))) {
    return new OdooTransportError(
      `${what}: ODOO_URL is http:// but ${host}:${port} speaks TLS: use https:// (${code})`,
      "unreachable",
    );
  }
  return described;
}
