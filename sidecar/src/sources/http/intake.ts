// The HTTP intake: a Source that takes CloudEvents over HTTP (the binding's
// structured, binary and batched modes on POST /events) and raw payloads on
// mapped routes (POST /routes/<route>), from producers with a bearer token.
//
// A 2xx goes out only after the items are committed to the spool (the
// sink's accept resolved), so a producer that got a 2xx may forget the
// events, and one that got none — a timeout, a reset, a sidecar killed
// between receive and answer — sends them again with the same ids: the
// spool and Odoo take the resend as a duplicate. Input that is wrong is
// stored as rejected (visible in Odoo) and answered 4xx with the reason;
// input refused before it is read (no token, spool full, too large) is not
// stored at all, and the answer says so. README.md has the table.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { HttpIntakeConfig, PayloadMapping } from "../../core/contract.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { findMapping, mappingLabel, runMapping } from "../../mapping/evaluate.ts";
import { sha256hex } from "../../mapping/stage.ts";
import { type Answer, itemsAnswer } from "./answer.ts";
import { type KnownProducer, ProducerAuth } from "./auth.ts";
import { type DecodedItem, decodeEvents, limitSources } from "./binding.ts";
import { ACCEPTED_CODINGS, decodeContent, refusedCoding } from "./content-coding.ts";
import { routeOf } from "./routes.ts";
import { daysLeft, HttpIntakeConfigError, httpTlsOptions } from "./tls.ts";

/** How full the spool is: (queued + parked) / capacity, the larger of bytes and events; appends waiting for space. */
export interface SpoolPressure {
  fill: number;
  waiting: number;
}

export type HttpIntakeLog = (
  level: "info" | "warn" | "error",
  fields: Record<string, unknown>,
  message: string,
) => void;

export interface HttpIntakeOptions {
  config: HttpIntakeConfig;
  /** Connection code (in log lines). */
  connection: string;
  /** The connection's payload mappings: those of transport http serve /routes/<route>. */
  payloadMaps?: readonly PayloadMapping[];
  /** The connection's mapping revision (a source check evaluates a mapping with it). */
  revision?: number;
  /** The spool's fill; without it only the spool's own wait holds producers back. */
  pressure?: () => SpoolPressure;
  /** Fill (0–1) from which new requests are answered 503. */
  highWater?: number;
  /** Requests one producer may have under way; past that 429. */
  maxInFlightPerProducer?: number;
  /** Retry-After of a 503 (spool full) and of a 429, seconds. */
  retryAfterFullS?: number;
  retryAfterBusyS?: number;
  /** Longest a request may take to arrive whole, ms. */
  requestTimeoutMs?: number;
  /** Open connections at most (all producers; unauthenticated ones too until they are answered). */
  maxConnections?: number;
  /** Request bodies held (read, not yet committed and answered) at most, bytes, all producers together. */
  maxHeldBytes?: number;
  /** At most one auth-failure line per this many ms (the rest are counted into it). */
  authLogIntervalMs?: number;
  log?: HttpIntakeLog;
  /** Every answer's status (metrics). */
  onAnswer?: (status: number) => void;
  onAuthFailure?: (why: "missing" | "unknown") => void;
}

export const DEFAULT_HIGH_WATER = 0.9;
export const DEFAULT_MAX_IN_FLIGHT_PER_PRODUCER = 128;
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Headers a producer sends that never travel on (they are credentials). */
const PRIVATE_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

class BodyTooLarge extends Error {}

/** What one request holds while it is handled: its producer's slot and its body's bytes. */
interface Ticket {
  producer?: KnownProducer;
  held: number;
}

export class HttpIntake implements Source {
  readonly name = "http";
  readonly #opts: HttpIntakeOptions;
  readonly #auth: ProducerAuth;
  #server: Server | undefined;
  #sink: SourceSink | undefined;
  #stopping = false;
  readonly #handling = new Set<Promise<void>>();
  readonly #perProducer = new Map<string, number>();
  /** Bytes of request bodies read (or announced) and not yet answered. */
  #held = 0;
  readonly #counts = {
    requests: 0,
    in_flight: 0,
    items_accepted: 0,
    items_rejected: 0,
    auth_failures: 0,
    refused_busy: 0,
    refused_full: 0,
  };
  /** Answers by status. */
  readonly #statuses = new Map<number, number>();
  #authLog = { lastAt: 0, suppressed: 0 };

  constructor(opts: HttpIntakeOptions) {
    this.#opts = opts;
    this.#auth = new ProducerAuth(opts.config.producers ?? []);
  }

  /** The port listened on (the configured one, or the one the system chose for 0). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get scheme(): "http" | "https" {
    return this.#opts.config.tls_cert ? "https" : "http";
  }

  async start(sink: SourceSink): Promise<void> {
    const config = this.#opts.config;
    const tls = httpTlsOptions(config);
    this.#sink = sink;
    this.#stopping = false;
    if (this.#auth.invalid.length > 0) {
      this.#log("error", { producers: this.#auth.invalid }, "HTTP producers without a valid token hash are refused");
    }
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#track(this.#handle(req, res, false));
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
    server.requestTimeout = this.#opts.requestTimeoutMs ?? 60_000;
    server.headersTimeout = Math.min(server.requestTimeout, 20_000);
    // Bounds what strangers can hold open; past it the system refuses new connections.
    server.maxConnections = this.#opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    // `Expect: 100-continue` (curl sends it past 1 MB): refuse before the body is sent.
    server.on("checkContinue", (req, res) => this.#track(this.#handle(req, res, true)));
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => reject(listenError(err, config));
      server.once("error", failed);
      server.listen(config.port, config.bind || undefined, () => {
        server.off("error", failed);
        resolve();
      });
    });
    server.on("error", (err) => this.#log("error", { err: err.message }, "HTTP intake server error"));
    this.#server = server;
    if (tls && daysLeft(tls.leaf, Date.now()) < 14) {
      this.#log(
        "warn",
        { validTo: tls.leaf.validTo, subject: tls.leaf.subject },
        "the HTTP intake's certificate (http_tls_cert) expires soon or has expired: producers will refuse it",
      );
    }
    this.#log(
      "info",
      { port: this.port, bind: config.bind || "*", tls: Boolean(tls), producers: this.#auth.size },
      "HTTP intake listening",
    );
  }

  /**
   * Stops taking requests: new ones (on connections already open) are
   * answered 503; those under way finish — their items commit and they are
   * answered — and then every connection closes.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const server = this.#server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    while (this.#handling.size > 0) await Promise.allSettled([...this.#handling]);
    server.closeAllConnections();
    await closed;
    this.#server = undefined;
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = { ...this.#counts, held_bytes: this.#held };
    for (const [status, n] of this.#statuses) out[`status_${status}`] = n;
    return out;
  }

  #track(work: Promise<void>): void {
    this.#handling.add(work);
    void work.finally(() => this.#handling.delete(work));
  }

  #log(level: "info" | "warn" | "error", fields: Record<string, unknown>, message: string): void {
    this.#opts.log?.(level, { connection: this.#opts.connection, ...fields }, message);
  }

  async #handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    this.#counts.requests++;
    this.#counts.in_flight++;
    const ticket: Ticket = { held: 0 };
    try {
      const answer = await this.#answer(req, res, expectsContinue, ticket);
      if (answer) this.#send(res, answer);
    } catch (err) {
      this.#log("error", { err: (err as Error).message }, "HTTP intake request failed; nothing acknowledged");
      this.#send(res, {
        status: 500,
        body: {
          status: 500,
          error: "not_stored",
          reason: `not acknowledged: ${(err as Error).message}; send the same events again`,
        },
      });
    } finally {
      this.#counts.in_flight--;
      this.#held -= ticket.held;
      const producer = ticket.producer;
      if (producer) {
        const left = (this.#perProducer.get(producer.name) ?? 1) - 1;
        if (left > 0) this.#perProducer.set(producer.name, left);
        else this.#perProducer.delete(producer.name);
      }
    }
  }

  /** The answer to one request, after its items committed when it has any. */
  async #answer(
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
    ticket: Ticket,
  ): Promise<Answer | undefined> {
    const config = this.#opts.config;
    if (this.#stopping) {
      res.setHeader("Connection", "close");
      res.setHeader("Retry-After", String(this.#opts.retryAfterFullS ?? 5));
      return refusal(503, "stopping", "the sidecar is stopping: send again in a moment (nothing of this was stored)");
    }
    const pathname = new URL(req.url ?? "/", "http://intake").pathname;
    const isEvents = pathname === "/events";
    const isRoute = pathname.startsWith("/routes/");
    if (!isEvents && !isRoute) {
      return refusal(
        404,
        "not_found",
        `no endpoint ${pathname}: POST /events (CloudEvents) or /routes/<route> (mapped JSON)`,
      );
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST");
      return refusal(405, "method_not_allowed", `${req.method} is not taken: POST events to ${pathname}`);
    }
    const auth = this.#auth.authenticate(req.headers.authorization);
    if (!auth.ok) {
      this.#authFailed(auth.why, auth.reason, req);
      res.setHeader(
        "WWW-Authenticate",
        auth.why === "missing" ? 'Bearer realm="shopfloor"' : 'Bearer realm="shopfloor", error="invalid_token"',
      );
      return refusal(401, "unauthorized", `${auth.reason}; nothing was stored`);
    }
    const producer = auth.producer;
    const running = this.#perProducer.get(producer.name) ?? 0;
    if (running >= (this.#opts.maxInFlightPerProducer ?? DEFAULT_MAX_IN_FLIGHT_PER_PRODUCER)) {
      this.#counts.refused_busy++;
      res.setHeader("Retry-After", String(this.#opts.retryAfterBusyS ?? 1));
      return refusal(
        429,
        "too_many_requests",
        `producer ${producer.name} has ${running} requests under way, the most it may: wait for their answers ` +
          "(nothing of this one was stored)",
      );
    }
    const pressure = this.#opts.pressure?.();
    const highWater = this.#opts.highWater ?? DEFAULT_HIGH_WATER;
    if (pressure && (pressure.waiting > 0 || pressure.fill >= highWater)) {
      this.#counts.refused_full++;
      res.setHeader("Retry-After", String(this.#opts.retryAfterFullS ?? 5));
      return refusal(
        503,
        "spool_full",
        `the sidecar's spool is ${Math.round(pressure.fill * 100)}% full (Odoo is not keeping up or is unreachable): ` +
          "send again after Retry-After (nothing of this was stored)",
      );
    }
    const coding = refusedCoding(req.headers["content-encoding"]);
    if (coding) {
      res.setHeader("Accept-Encoding", ACCEPTED_CODINGS);
      res.setHeader("Connection", "close");
      return refusal(coding.status, coding.error, coding.reason);
    }
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (declared > config.max_body_bytes) {
      res.setHeader("Connection", "close");
      return tooLarge(declared, config.max_body_bytes);
    }
    // Bodies are held until their commit: their total is bounded (a chunked one counts once it has arrived).
    const reserve = Number.isFinite(declared) ? declared : 0;
    const maxHeld = this.#opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
    if (this.#held > 0 && this.#held + reserve > maxHeld) {
      this.#counts.refused_busy++;
      res.setHeader("Retry-After", String(this.#opts.retryAfterBusyS ?? 1));
      return refusal(
        503,
        "busy",
        `the intake holds ${this.#held} bytes of requests waiting for their commit, the most it holds: ` +
          "send again after Retry-After (nothing of this was stored)",
      );
    }
    this.#perProducer.set(producer.name, running + 1);
    ticket.producer = producer;
    this.#held += reserve;
    ticket.held = reserve;
    if (expectsContinue) res.writeContinue();
    let body: Uint8Array;
    try {
      body = await readBody(req, config.max_body_bytes);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.setHeader("Connection", "close");
      return tooLarge(undefined, config.max_body_bytes);
    }
    // A compressed body is decoded here, bounded by max_body_bytes once decoded too.
    const decoded = await decodeContent(req.headers["content-encoding"], body, config.max_body_bytes);
    if (!decoded.ok) {
      if (decoded.status === 415) res.setHeader("Accept-Encoding", ACCEPTED_CODINGS);
      return refusal(decoded.status, decoded.error, decoded.reason);
    }
    body = decoded.body;
    this.#held += body.byteLength - ticket.held;
    ticket.held = body.byteLength;
    const receivedAt = new Date();
    if (isEvents) {
      const decoded = decodeEvents(req.headers, body);
      if (!decoded.ok)
        return refusal(decoded.status, "unsupported_media_type", `${decoded.reason}; nothing was stored`);
      const items = limitSources(decoded.items, producer.name, producer.sourcePrefix);
      // No `via`: these are CloudEvents for the pipeline, never a payload mapping's input.
      const origin = `http:${producer.name}`;
      return this.#commit(items, (item) => toIntake(item, origin, receivedAt));
    }
    const route = routeOf(pathname);
    if (!route.ok) return refusal(404, "not_found", `${route.reason}; nothing was stored`);
    const map = findMapping(this.#opts.payloadMaps ?? [], "http", route.route);
    const headers = forwardedHeaders(req);
    const item: DecodedItem = map
      ? { payload: body, ...(await this.#outsidePrefix(map, producer, body, route.route, headers, receivedAt)) }
      : {
          payload: body,
          problem: {
            status: 400,
            reason:
              `no payload mapping (transport http) matches the route ${JSON.stringify(route.route)}: ` +
              "create one in Odoo — from this rejected payload in the dead-letter screen — then retry it there",
          },
        };
    const answer = await this.#commit([item], (one) => toIntake(one, route.route, receivedAt, headers), route.route);
    // Stored as rejected, but the route is what is missing: answered 404 with the reason.
    if (!map) return { status: 404, body: { ...answer.body, status: 404, error: "no_mapping" } };
    return answer;
  }

  /**
   * A producer limited to a source prefix may post to a route whose mapping
   * copies sources from the payload: the mapping is run here first (the
   * stage runs it again; it is deterministic), and a payload that makes an
   * event outside the prefix is stored as rejected (403). A mapping that
   * fails here fails in the stage too, which rejects it with its reason.
   */
  async #outsidePrefix(
    map: PayloadMapping,
    producer: KnownProducer,
    payload: Uint8Array,
    route: string,
    headers: Record<string, string>,
    receivedAt: Date,
  ): Promise<Pick<DecodedItem, "problem">> {
    const prefix = producer.sourcePrefix;
    if (!prefix || map.kind !== "events") return {};
    const input = {
      payload,
      topic: route,
      headers,
      receivedAt,
      connection: this.#opts.connection,
      revision: this.#opts.revision ?? 0,
    };
    const outcome = await runMapping(map, input, sha256hex);
    if (!outcome.ok) return {};
    const outside = outcome.events.find(
      (event) => typeof event.source !== "string" || !event.source.startsWith(prefix),
    );
    if (!outside) return {};
    return {
      problem: {
        status: 403,
        reason:
          `${mappingLabel(map)} made an event with source ${JSON.stringify(outside.source)}, outside producer ` +
          `${JSON.stringify(producer.name)}'s source prefix ${JSON.stringify(prefix)}`,
      },
    };
  }

  async #commit(items: DecodedItem[], intakeOf: (item: DecodedItem) => Intake, route?: string): Promise<Answer> {
    const sink = this.#sink;
    if (!sink) throw new Error("the HTTP intake is not started");
    const report = items.length > 0 ? await sink.accept(items.map(intakeOf)) : { items: [], duplicates: 0 };
    const answer = itemsAnswer(items, report ?? undefined, route);
    const rejected = Number(answer.body.rejected ?? 0);
    this.#counts.items_rejected += rejected;
    this.#counts.items_accepted += items.length - rejected;
    return answer;
  }

  #authFailed(why: "missing" | "unknown", reason: string, req: IncomingMessage): void {
    this.#counts.auth_failures++;
    this.#opts.onAuthFailure?.(why);
    const now = Date.now();
    const every = this.#opts.authLogIntervalMs ?? 60_000;
    if (now - this.#authLog.lastAt < every) {
      this.#authLog.suppressed++;
      return;
    }
    this.#log(
      "warn",
      { remote: req.socket.remoteAddress, why, alsoSince: this.#authLog.suppressed },
      `HTTP intake refused a request: ${reason}`,
    );
    this.#authLog = { lastAt: now, suppressed: 0 };
  }

  #send(res: ServerResponse, answer: Answer): void {
    this.#opts.onAnswer?.(answer.status);
    this.#statuses.set(answer.status, (this.#statuses.get(answer.status) ?? 0) + 1);
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-store",
    });
    res.end(text);
  }
}

function refusal(status: number, error: string, reason: string): Answer {
  return { status, body: { status, error, reason } };
}

function tooLarge(declared: number | undefined, limit: number): Answer {
  return refusal(
    413,
    "content_too_large",
    `the body ${declared === undefined ? "is larger" : `(${declared} bytes) is larger`} than the intake takes ` +
      `(${limit} bytes, max_body_bytes): send fewer events per request; nothing was stored`,
  );
}

/** The item for the sink; `headers` (a mapped route's) mark it as a payload mapping's input. */
function toIntake(item: DecodedItem, origin: string, receivedAt: Date, headers?: Record<string, string>): Intake {
  if (item.problem) return { kind: "rejected", payload: item.payload, origin, receivedAt, reason: item.problem.reason };
  if (!headers) return { kind: "raw", payload: item.payload, origin, receivedAt };
  return { kind: "raw", payload: item.payload, origin, receivedAt, via: { transport: "http", headers } };
}

/** The request's headers for payload mappings ($headers): lower-case names, credentials left out. */
function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || PRIVATE_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** The whole body, or BodyTooLarge as soon as it passes `limit` (what came is dropped). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.byteLength;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        // Stop reading: the answer closes the connection.
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!over) reject(err);
    });
    req.on("close", () => {
      if (!over && !req.complete) reject(new Error("the producer closed the connection before the body was complete"));
    });
  });
}

function listenError(err: NodeJS.ErrnoException, config: HttpIntakeConfig): Error {
  const where = `${config.bind || "*"}:${config.port}`;
  if (err.code === "EADDRINUSE") {
    return new HttpIntakeConfigError("http_port", `port ${where} is already in use: choose another http_port`, {
      cause: err,
    });
  }
  if (err.code === "EACCES") {
    return new HttpIntakeConfigError(
      "http_port",
      `port ${config.port} needs privileges the sidecar does not have: use a port above 1023`,
      { cause: err },
    );
  }
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
    return new HttpIntakeConfigError(
      "http_bind",
      `cannot listen on ${where} (${err.code}): http_bind is no address of this machine`,
      {
        cause: err,
      },
    );
  }
  return err;
}
