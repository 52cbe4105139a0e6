// The whole chain the fuzzer drives: real Odoo 18 (the demo plant's
// database), real Mosquitto, the sidecar as a process. `run` publishes one
// generated case and checks the invariant of test/fuzz/README.md on it:
//   - every published message is in Odoo exactly once (a repeat or a
//     same-id copy shares its original's row), found by its key: (source, id)
//     for an event, (topic, rejectedId) for input the sidecar rejects;
//   - in a state of applied, pending, failed, dead or rejected, with a
//     reason for all but applied (input the sidecar rejects: rejected);
//   - ids and sources stored as sent, unless they hold what PostgreSQL
//     cannot store (NUL, a lone surrogate);
//   - nothing left in the spool (depth 0, nothing parked), the sidecar
//     alive and healthy.
// A failed run leaves the chain in an unknown state (a poisoned batch may
// sit in the spool), so the next run starts on a fresh connection, spool
// and sidecar: each run of a shrinking sequence is judged on its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { type MosquittoBroker, startMosquitto } from "../../sidecar/devstack/mosquitto.ts";
import { freePort, type OdooServer, startOdoo } from "../../sidecar/devstack/odoo.ts";
import { makeOdooFixture, type OdooFixture } from "../../sidecar/test/support/odoo/testing.ts";
import { type SidecarProcess, spawnSidecar } from "../../sidecar/test/support/sidecar-process.ts";
import {
  concretize,
  type ExpectedKey,
  type FuzzCase,
  groupKey,
  type Publication,
  type Vocabulary,
} from "./arbitraries.ts";

export interface FuzzChainOptions {
  /** Database (duplicated from the demo template), dropped by stop(). */
  db: string;
  /** Events per ingest call (small, so that good and bad items share batches). */
  batchSize?: number;
  batchWaitMs?: number;
  /** A run fails when nothing moves (Odoo rows, spool depth, sidecar intake) for this long. */
  stallMs?: number;
  /** A run fails when it has not settled after this long. */
  maxRunMs?: number;
  log?: (line: string) => void;
}

export interface RunReport {
  ok: boolean;
  /** The run's marker in ids and topics. */
  nonce: string;
  connection: string;
  problems: string[];
  published: number;
  /** Distinct rows expected (repeats and same-id copies share one). */
  expectedRows: number;
  /** Rows found, by state. */
  states: Record<string, number>;
  /** Publish of the first message → everything settled in Odoo, ms. */
  settleMs: number;
}

interface EventRow {
  id: number;
  event_uid: string;
  source: string;
  state: string;
  error_message: string | false;
  raw_payload?: string | false;
}

/** The demo connection whose mappings each fuzz connection copies (so valid events can apply). */
const DEMO_CONNECTION = "plant1-mqtt";
const MAP_MODELS: { model: string; fields: string[] }[] = [
  { model: "shopfloor.source.map", fields: ["source", "workcenter_id"] },
  { model: "shopfloor.order.map", fields: ["mes_ref", "production_id"] },
  { model: "shopfloor.operation.map", fields: ["operation", "operation_id"] },
  { model: "shopfloor.material.map", fields: ["code", "product_id"] },
  { model: "shopfloor.uom.map", fields: ["code", "uom_id"] },
  { model: "shopfloor.reason.map", fields: ["code", "loss_id", "open_maintenance"] },
];
const SETTLED_STATES = new Set(["applied", "pending", "failed", "dead", "rejected"]);
/** Text PostgreSQL cannot store as it is: the module stores it escaped or as a digest. */
const unstorable = (text: string) => text.includes("\u0000") || Buffer.from(text, "utf8").toString("utf8") !== text;

/** Text as the module stores it: NUL as `\x00`, a lone surrogate as `\udXXX` (Python's spelling), the rest as sent. */
export function storedForm(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit === 0) out += "\\x00";
    else if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += text.slice(i, i + 2);
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) out += `\\u${unit.toString(16)}`;
    else out += text[i];
  }
  return out;
}

function storedDeep(value: unknown): unknown {
  if (value instanceof JsonNumber) return value;
  if (typeof value === "string") return storedForm(value);
  if (Array.isArray(value)) return value.map(storedDeep);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storedForm(k), storedDeep(v)]));
  }
  return value;
}

/** A JSON number as its text: integers compare exactly (past 2^53 too), others by their double value. */
class JsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  equals(other: JsonNumber): boolean {
    const integer = /^-?\d+$/;
    if (integer.test(this.text) && integer.test(other.text)) return BigInt(this.text) === BigInt(other.text);
    return Number(this.text) === Number(other.text);
  }
}

/** JSON text parsed with every number kept as its text (Node's JSON.parse hands the reviver the source). */
export function parseLossless(text: string): unknown {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" && context?.source !== undefined ? new JsonNumber(context.source) : value,
  );
}

/** JSON values equal as a careful reader sees them (integers exactly, other numbers by value). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a instanceof JsonNumber && b instanceof JsonNumber) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (
    a !== null &&
    b !== null &&
    typeof a === "object" &&
    typeof b === "object" &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return a === b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A payload as a person can read it in a report: escapes for the invisible, cut at `max`. */
export function printable(payload: Buffer | string, max = 160): string {
  const text = typeof payload === "string" ? payload : payload.toString("utf8");
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  const size = typeof payload === "string" ? payload.length : payload.byteLength;
  return text.length > max ? `${shown}… (${size} bytes)` : shown;
}

export class FuzzChain {
  readonly opts: Required<Omit<FuzzChainOptions, "log">> & { log: (line: string) => void };
  odoo!: OdooServer;
  broker!: MosquittoBroker;
  publisher!: MqttClient;
  fixture!: OdooFixture;
  sidecar!: SidecarProcess;
  vocabulary!: Vocabulary;
  readonly #tag = Date.now().toString(36).slice(-4);
  #generation = 0;
  #runs = 0;
  #needsReset = false;
  #spoolDirs: string[] = [];
  #env: Record<string, string> = {};

  private constructor(opts: FuzzChainOptions) {
    this.opts = {
      batchSize: 25,
      batchWaitMs: 50,
      stallMs: Number(process.env.SFB_FUZZ_STALL_MS ?? 20_000),
      maxRunMs: 240_000,
      log: () => {},
      ...opts,
    };
  }

  static async start(opts: FuzzChainOptions): Promise<FuzzChain> {
    const chain = new FuzzChain(opts);
    try {
      // 10 MB payloads must reach the sidecar (Mosquitto's default limit is 256 MB, set explicitly).
      chain.broker = await startMosquitto({ extraConfig: ["message_size_limit 16777216"] });
      chain.odoo = await startOdoo({ db: opts.db, log: chain.opts.log });
      chain.publisher = await mqtt.connectAsync(chain.broker.url, {
        clientId: `fuzz-pub-${process.pid}-${chain.#tag}`,
      });
      await chain.#freshSidecar();
      chain.vocabulary = await chain.#readVocabulary();
    } catch (err) {
      await chain.stop();
      throw err;
    }
    return chain;
  }

  get connection(): string {
    return this.fixture.code;
  }

  get topicPrefix(): string {
    return `fuzz/${this.fixture.code}`;
  }

  async stop(): Promise<void> {
    await this.sidecar?.kill("SIGKILL");
    await this.publisher?.endAsync();
    await this.broker?.destroy();
    await this.odoo?.destroy();
    for (const dir of this.#spoolDirs) rmSync(dir, { recursive: true, force: true });
  }

  /** Sidecar output of the current process (its last lines on failure). */
  sidecarOutput(): string {
    return this.sidecar?.output() ?? "";
  }

  /** A new connection (with the demo connection's mappings), spool and sidecar process. */
  async #freshSidecar(): Promise<void> {
    await this.sidecar?.kill("SIGKILL");
    const code = `fz${this.#tag}${++this.#generation}`;
    this.fixture = await makeOdooFixture(this.odoo, {
      code,
      mqttUrl: this.broker.url,
      topics: [`fuzz/${code}/#`],
      batchSize: this.opts.batchSize,
      batchWaitMs: this.opts.batchWaitMs,
    });
    await this.#copyDemoMappings();
    const spoolDir = mkdtempSync(join(tmpdir(), `sfb-fuzz-${code}-`));
    this.#spoolDirs.push(spoolDir);
    this.#env = {
      ODOO_URL: this.odoo.url,
      ODOO_DB: this.odoo.db,
      ODOO_USER: this.fixture.user,
      ODOO_API_KEY: this.fixture.password,
      SHOPFLOOR_CONNECTION: code,
      SHOPFLOOR_SPOOL_DIR: spoolDir,
      METRICS_PORT: String(await freePort()),
    };
    this.sidecar = spawnSidecar({ env: this.#env, args: ["run", "--heartbeat-ms", "2000"] });
    // Not "source started": /metrics, which every run reads, answers from "sidecar running" on.
    await this.sidecar.waitForLog(/"msg":"sidecar running"/, 120_000);
    this.opts.log(`connection ${code}: sidecar pid ${this.sidecar.child.pid}, spool ${spoolDir}`);
  }

  async #copyDemoMappings(): Promise<void> {
    const admin = this.fixture.admin;
    const [demo] = (await admin.execute("shopfloor.connection", "search", [
      [["code", "=", DEMO_CONNECTION]],
    ])) as number[];
    if (!demo) throw new Error(`the demo connection ${DEMO_CONNECTION} is missing: is the demo data installed?`);
    for (const { model, fields } of MAP_MODELS) {
      const rows = (await admin.execute(model, "search_read", [[["connection_id", "=", demo]]], { fields })) as Record<
        string,
        unknown
      >[];
      if (rows.length === 0) continue;
      const values = rows.map((row) => {
        const v: Record<string, unknown> = { connection_id: this.fixture.connectionId };
        for (const f of fields) v[f] = Array.isArray(row[f]) ? (row[f] as unknown[])[0] : row[f];
        return v;
      });
      await admin.execute(model, "create", [values]);
    }
  }

  /** Names the plant knows: mapped sources, orders, operations, materials, units, reasons, work centers. */
  async #readVocabulary(): Promise<Vocabulary> {
    const admin = this.fixture.admin;
    const read = async (model: string, domain: unknown[], field: string, limit = 20) =>
      ((await admin.execute(model, "search_read", [domain], { fields: [field], limit })) as Record<string, unknown>[])
        .map((r) => r[field])
        .filter((v): v is string => typeof v === "string" && v !== "");
    const mine = [["connection_id", "=", this.fixture.connectionId]];
    const unique = (names: string[]) => [...new Set(names)];
    return {
      orders: unique([
        ...(await read("mrp.production", [["state", "in", ["confirmed", "progress", "to_close"]]], "name", 8)),
        ...(await read("shopfloor.order.map", mine, "mes_ref")),
      ]),
      operations: unique([
        ...(await read("shopfloor.operation.map", mine, "operation")),
        ...(await read("mrp.routing.workcenter", [], "name", 8)),
      ]),
      materials: unique([
        ...(await read("shopfloor.material.map", mine, "code")),
        ...(await read("product.product", [["default_code", "like", "RM-"]], "default_code", 8)),
      ]),
      uoms: unique([...(await read("shopfloor.uom.map", mine, "code")), "Units", "kg"]),
      reasons: unique(await read("shopfloor.reason.map", mine, "code")),
      sources: unique(await read("shopfloor.source.map", mine, "source")),
      workcenters: unique(await read("mrp.workcenter", [], "code", 8)),
    };
  }

  async #rows(afterId: number, fields = ["id", "event_uid", "source", "state", "error_message"]): Promise<EventRow[]> {
    return (await this.fixture.admin.execute("shopfloor.event", "search_read", [[["id", ">", afterId]]], {
      fields,
      order: "id",
      context: { active_test: false },
    })) as EventRow[];
  }

  async #lastRowId(): Promise<number> {
    const [row] = (await this.fixture.admin.execute("shopfloor.event", "search_read", [[]], {
      fields: ["id"],
      order: "id desc",
      limit: 1,
      context: { active_test: false },
    })) as { id: number }[];
    return row?.id ?? 0;
  }

  async #gauges(): Promise<{ depth: number; parked: number; intake: number }> {
    const text = await this.sidecar.metrics();
    // A labelled counter shows once it counted; a gauge the sidecar lacks (parked, before parking) reads 0.
    const value = (prefix: string) => {
      const line = text.split("\n").find((l) => l.startsWith(prefix));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    if (!text.includes("shopfloor_sidecar_spool_depth "))
      throw new Error(`no shopfloor_sidecar_spool_depth in /metrics:\n${text.slice(0, 500)}`);
    return {
      depth: value("shopfloor_sidecar_spool_depth "),
      parked: value("shopfloor_sidecar_spool_parked "),
      intake:
        value('shopfloor_sidecar_events_in_total{kind="event"}') +
        value('shopfloor_sidecar_events_in_total{kind="rejected"}'),
    };
  }

  /**
   * Data and subject of a stored event as one of its publications sent them
   * (a same-id copy may have won the race), NUL and lone surrogates in the
   * module's escaped form.
   */
  #fidelity(
    rowId: number,
    row: { data_json: string | false; subject: string | false } | undefined,
    publications: Publication[],
    what: () => string,
  ): string[] {
    if (!row) return [`row ${rowId} could not be read back: ${what()}`];
    let data: unknown;
    try {
      data = parseLossless(row.data_json || "null");
    } catch (err) {
      return [
        `row ${rowId} stores data_json that is not JSON (${(err as Error).message}): ${printable(String(row.data_json))}: ${what()}`,
      ];
    }
    const sent = publications.map(
      (p) => parseLossless(p.payload.toString("utf8")) as { data?: unknown; subject?: unknown },
    );
    if (!sent.some((e) => sameJson(storedDeep(e.data ?? {}), data))) {
      return [`row ${rowId} stores data ${printable(String(row.data_json), 300)}, not the data sent: ${what()}`];
    }
    const subject = row.subject || "";
    if (!sent.some((e) => storedForm(typeof e.subject === "string" ? e.subject : "") === subject)) {
      return [
        `row ${rowId} stores subject ${printable(subject)}, sent ${printable(String(sent[0]?.subject ?? ""))}: ${what()}`,
      ];
    }
    return [];
  }

  /** Publishes one case and checks the invariant on it. */
  async run(fuzzCase: FuzzCase): Promise<RunReport> {
    if (this.#needsReset) {
      await this.#freshSidecar();
      this.#needsReset = false;
    }
    const nonce = `${this.#tag}${++this.#runs}`;
    const publications = concretize(fuzzCase, { prefix: this.topicPrefix, nonce, connection: this.connection });
    const groups = new Map<string, { expected: ExpectedKey; publications: Publication[]; rows: EventRow[] }>();
    for (const p of publications) {
      const key = groupKey(p.expected);
      const group = groups.get(key) ?? { expected: p.expected, publications: [], rows: [] };
      group.publications.push(p);
      groups.set(key, group);
    }
    const watermark = await this.#lastRowId();
    const before = await this.#gauges().catch(() => ({ depth: 0, parked: 0, intake: 0 }));
    const outputFrom = this.sidecarOutput().length;
    const problems: string[] = [];
    const started = performance.now();
    for (const p of publications) await this.publisher.publishAsync(p.topic, p.payload, { qos: 1 });

    // Wait until everything is in Odoo and out of the spool, or nothing moves any more.
    const markerRe = new RegExp(`"(fz${nonce}\\.\\d+~)`);
    const ownRow = (row: EventRow) =>
      row.event_uid.startsWith(`fz${nonce}.`) || row.source.startsWith(`${this.topicPrefix}/${nonce}/`);
    // The marker as the expected event has it (arbitraries.ts): read from the stored
    // item's own id, so bytes spliced into the marker itself (seed 20261201, case 6:
    // "fz…è.35~") still match; the text search is for payloads that are not JSON.
    const markerOf = (payload: string): string | undefined => {
      try {
        const id = (JSON.parse(payload) as { id?: unknown }).id;
        if (typeof id === "string") return /^fz[^~]*~/.exec(id)?.[0];
      } catch {
        // not JSON: fall through to the text search
      }
      return markerRe.exec(payload)?.[1];
    };
    const byMarker = new Map<string, string>();
    const byExact = new Map<string, string>();
    for (const [key, g] of groups) {
      byExact.set(`${g.expected.source}\u0001${g.expected.id}`, key);
      if (g.expected.kind === "event") byMarker.set(g.expected.marker, key);
    }
    let rows: EventRow[] = [];
    let stray: EventRow[] = [];
    let lastSignature = "";
    let lastChange = Date.now();
    const deadline = Date.now() + this.opts.maxRunMs;
    let settleMs = Number.NaN;
    let gauges = before;
    for (;;) {
      if (this.sidecar.child.exitCode !== null || this.sidecar.child.signalCode !== null) {
        problems.push(
          `the sidecar exited (code ${this.sidecar.child.exitCode}, signal ${this.sidecar.child.signalCode})`,
        );
        break;
      }
      try {
        gauges = await this.#gauges();
      } catch (err) {
        problems.push(`the sidecar's /metrics did not answer: ${(err as Error).message}`);
        break;
      }
      rows = await this.#rows(watermark);
      for (const g of groups.values()) g.rows = [];
      stray = [];
      const unplaced: EventRow[] = [];
      for (const row of rows) {
        const key =
          byExact.get(`${row.source}\u0001${row.event_uid}`) ??
          byMarker.get(/^fz[^~]*~/.exec(row.event_uid)?.[0] ?? "\u0000");
        if (key) groups.get(key)?.rows.push(row);
        else unplaced.push(row);
      }
      if (unplaced.length) {
        // Keys the module had to replace (a digest for a NUL id): find the marker in the stored payload.
        const payloads = new Map(
          (
            (await this.fixture.admin.execute(
              "shopfloor.event",
              "search_read",
              [[["id", "in", unplaced.map((r) => r.id)]]],
              { fields: ["id", "raw_payload"], context: { active_test: false } },
            )) as EventRow[]
          ).map((r) => [r.id, r.raw_payload]),
        );
        for (const row of unplaced) {
          const marker = markerOf(String(payloads.get(row.id) || ""));
          const key = marker ? byMarker.get(marker) : undefined;
          if (key) groups.get(key)?.rows.push({ ...row, raw_payload: payloads.get(row.id) });
          else if (ownRow(row) || marker) stray.push(row);
        }
      }
      const found = [...groups.values()].every((g) => g.rows.length > 0);
      const intake = gauges.intake - before.intake;
      if (found && gauges.depth === 0 && gauges.parked === 0 && intake >= publications.length) {
        settleMs = performance.now() - started;
        break;
      }
      const signature = `${rows.length}|${gauges.depth}|${gauges.parked}|${gauges.intake}`;
      if (signature !== lastSignature) {
        lastSignature = signature;
        lastChange = Date.now();
      }
      const waiting = `${[...groups.values()].filter((g) => g.rows.length === 0).length} of ${groups.size} expected rows missing, spool depth ${gauges.depth}, parked ${gauges.parked}, sidecar took in ${intake} of ${publications.length} messages`;
      if (Date.now() - lastChange > this.opts.stallMs) {
        problems.push(`stalled: nothing moved for ${this.opts.stallMs} ms (${waiting})`);
        break;
      }
      if (Date.now() > deadline) {
        problems.push(`not settled after ${this.opts.maxRunMs} ms (${waiting})`);
        break;
      }
      await sleep(250);
    }

    // What Odoo stored of each event (data and subject), read once at the end.
    const stored = new Map<number, { data_json: string | false; subject: string | false }>();
    const storedIds = [...groups.values()].flatMap((g) => (g.expected.kind === "event" ? g.rows.map((r) => r.id) : []));
    if (storedIds.length) {
      for (const r of (await this.fixture.admin.execute("shopfloor.event", "search_read", [[["id", "in", storedIds]]], {
        fields: ["id", "data_json", "subject"],
        context: { active_test: false },
      })) as { id: number; data_json: string | false; subject: string | false }[]) {
        stored.set(r.id, r);
      }
    }

    // The invariant, message by message.
    for (const g of groups.values()) {
      const first = g.publications[0] as Publication;
      const what = () =>
        `message ${g.publications.map((p) => `#${p.index} (${p.label})`).join(", ")} on ${first.topic}: ${printable(first.payload)}`;
      if (g.rows.length === 0) {
        problems.push(
          `missing in Odoo: ${what()} — expected ${g.expected.kind === "event" ? `event (source ${JSON.stringify(g.expected.source)}, id ${JSON.stringify(g.expected.id)})` : `rejected input (${g.expected.reason})`}`,
        );
        continue;
      }
      if (g.rows.length > 1) {
        problems.push(`${g.rows.length} rows in Odoo (ids ${g.rows.map((r) => r.id).join(", ")}) for one ${what()}`);
      }
      for (const row of g.rows) {
        if (!SETTLED_STATES.has(row.state)) problems.push(`row ${row.id} is ${row.state}: ${what()}`);
        if (row.state !== "applied" && !(typeof row.error_message === "string" && row.error_message.trim())) {
          problems.push(`row ${row.id} is ${row.state} without a reason: ${what()}`);
        }
        if (g.expected.kind === "rejected" && row.state !== "rejected") {
          problems.push(
            `row ${row.id} is ${row.state}, but the sidecar rejected the input (${g.expected.reason}): ${what()}`,
          );
        }
        const ownKey =
          g.expected.kind === "event" &&
          (row.event_uid.startsWith(g.expected.marker) ||
            (unstorable(g.expected.id) && row.event_uid.startsWith("sha256:")));
        if (g.expected.kind === "event" && row.state === "rejected" && !ownKey) {
          // Found by its bytes under another key: set aside as rejected input somewhere on the way.
          problems.push(
            `row ${row.id}: the sidecar accepted this event, but Odoo has it as rejected input under id ${JSON.stringify(row.event_uid)} ` +
              `(reason: ${String(row.error_message).slice(0, 300)}), not under its own (source, id): ${what()}`,
          );
        } else if (g.expected.kind === "event") {
          if (!unstorable(g.expected.id) && row.event_uid !== g.expected.id) {
            problems.push(
              `row ${row.id} stores id ${JSON.stringify(row.event_uid)}, sent ${JSON.stringify(g.expected.id)}: ${what()}`,
            );
          }
          if (!unstorable(g.expected.source) && row.source !== g.expected.source) {
            problems.push(
              `row ${row.id} stores source ${JSON.stringify(row.source)}, sent ${JSON.stringify(g.expected.source)}: ${what()}`,
            );
          }
          if (row.state !== "rejected")
            problems.push(...this.#fidelity(row.id, stored.get(row.id), g.publications, what));
        }
      }
    }
    for (const row of stray) {
      problems.push(
        `a row no message of this run explains: ${row.id} ${row.state} source ${JSON.stringify(row.source)} id ${JSON.stringify(row.event_uid)}`,
      );
    }
    if (this.sidecar.child.exitCode === null && this.sidecar.child.signalCode === null) {
      try {
        const health = await this.sidecar.health();
        if (health.ok !== true) problems.push(`/healthz is not ok: ${JSON.stringify(health)}`);
        if (typeof health.spool_parked === "number" && health.spool_parked > 0) {
          problems.push(`${health.spool_parked} spool rows parked`);
        }
      } catch (err) {
        problems.push(`/healthz did not answer: ${(err as Error).message}`);
      }
    }
    if (gauges.depth !== 0) problems.push(`spool depth ${gauges.depth} at the end of the run`);
    if (problems.length) {
      const errors = this.sidecarOutput()
        .slice(outputFrom)
        .split("\n")
        .filter((l) => /"level":(40|50|60)/.test(l))
        .slice(-6)
        .map((l) => l.slice(0, 600));
      if (errors.length) problems.push(`sidecar warnings/errors during the run:\n    ${errors.join("\n    ")}`);
      problems.push(`Odoo log: ${this.odoo.logFile}`);
      this.#needsReset = true;
    }
    const states: Record<string, number> = {};
    for (const g of groups.values()) for (const row of g.rows) states[row.state] = (states[row.state] ?? 0) + 1;
    return {
      ok: problems.length === 0,
      nonce,
      connection: this.connection,
      problems,
      published: publications.length,
      expectedRows: groups.size,
      states,
      settleMs,
    };
  }
}
