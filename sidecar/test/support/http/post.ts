// A producer of the HTTP intake, for tests and the bench: one POST with
// node:http(s), the answer's status, headers and JSON body.
import { type Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface PostOptions {
  /** Bearer token; none sends no Authorization header. */
  token?: string;
  headers?: Record<string, string>;
  /** CA to trust for https:// (the test CA). */
  ca?: string;
  /** false: a connection of its own (none kept alive). */
  agent?: HttpAgent | HttpsAgent | false;
  method?: string;
  /** Sent chunked, without Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
}

export interface PostAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON body (the intake always answers JSON), or the text when it is not JSON. */
  body: Record<string, unknown> & { reason?: string; items?: Record<string, unknown>[] };
  text: string;
}

export function post(url: string, body: string | Uint8Array, opts: PostOptions = {}): Promise<PostAnswer> {
  const target = new URL(url);
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  if (!opts.chunked) headers["Content-Length"] = bytes.byteLength;
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: opts.method ?? "POST",
        headers,
        agent: opts.agent,
        ...(opts.ca ? { ca: opts.ca } : {}),
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: PostAnswer["body"] = {};
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} in ${opts.timeoutMs ?? 30_000} ms`)));
    req.on("error", reject);
    req.end(bytes);
  });
}

/** A CloudEvent as the intake takes it (structured mode), with a unique id unless given. */
export function cloudEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: `ev-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
    source: "plant1/line1/press-01",
    type: "production.reported",
    time: new Date().toISOString(),
    data: { order: "WH/MO/00001", qty_good: 1 },
    ...overrides,
  };
}

export const STRUCTURED = { "Content-Type": "application/cloudevents+json" };
export const BATCHED = { "Content-Type": "application/cloudevents-batch+json" };
