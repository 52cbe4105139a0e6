// A directly polled PLC (Modbus TCP, Siemens S7, EtherNet/IP) as a sidecar
// Source, generic over the protocol's PlcDriver. Every `pollIntervalMs`
// (start to start; a slow read delays the next one, never overlaps it) it
// reads every address the connection's rules of its protocol use, and hands
// each value that changed (beyond the rule's deadband) to the rule engines as
// an observation, as the OPC UA source hands over data changes. Derived events
// and the rule state that produced them go to the spool in one `accept`, so
// counters survive a restart of the sidecar or of the PLC without loss or
// double count. The poll's read time is the observations' source time.
//
// The PLC may be gone: the source then closes the driver, reconnects with
// the shared backoff and shows it — `connected` 0, `lastError` (also logged
// once per change, not at every attempt) and the counters of stats().

import { type BackoffPolicy, backoffDelay } from "../../core/backoff.ts";
import type { CloudEvent, MappingRule, PlcKind, SidecarConfig } from "../../core/contract.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { type EngineResult, RuleEngine } from "../../rules/engine.ts";
import { auxiliaryAddresses, type Observation } from "../../rules/types.ts";
import { type PlcDriver, PlcUnreachableError, type PlcValue } from "./driver.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string) => void;

export interface PlcSourceOptions {
  /** Connection code (event ids, `connection` extension, rule state prefix). */
  connection: string;
  revision: number;
  /** The protocol's driver for this connection's PLC (sources/plc/drivers.ts makes it). */
  driver: PlcDriver;
  /** The connection's rules of the driver's protocol; others are ignored. */
  rules: MappingRule[];
  /** From the start of one read of every tag to the start of the next. */
  pollIntervalMs: number;
  /** Waits between connection attempts (full jitter). */
  reconnect?: BackoffPolicy;
  /** How often counter windows are checked for closing. */
  flushIntervalMs?: number;
  /** How long `start` waits for the first read of every tag (or the first failure) before polling goes on behind. */
  startTimeoutMs?: number;
  log?: SourceLog;
}

export const PLC_RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };
/** The poll interval when the connection sets none (0). */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** A poll interval below this is raised to it: a PLC is not a busy loop. */
export const MIN_POLL_INTERVAL_MS = 10;

export function plcOptionsFromConfig(config: SidecarConfig, driver: PlcDriver, log?: SourceLog): PlcSourceOptions {
  if (!config.plc) {
    throw new Error(`connection ${config.code}: kind ${config.kind} needs the plc block of sidecar_config`);
  }
  const opts: PlcSourceOptions = {
    connection: config.code,
    revision: config.revision,
    driver,
    rules: config.rules.filter((rule) => rule.protocol === driver.protocol),
    pollIntervalMs: config.plc.poll_interval_ms > 0 ? config.plc.poll_interval_ms : DEFAULT_POLL_INTERVAL_MS,
  };
  if (log) opts.log = log;
  return opts;
}

/** One address read at every poll, with what it last showed the rules. */
interface Watched {
  address: string;
  tag: unknown;
  /** Rules that read it, as their own address or as an order/reason/field address (for messages). */
  rules: MappingRule[];
  /** Smallest raw change any reader wants to see (0: every change). */
  deadband: number;
  /** Last value handed to the rules; undefined before the first read. */
  last: PlcValue | undefined;
  /** typeof of the last value read: a change of it is a configuration fault worth saying. */
  type: string | undefined;
  /** Why the PLC refused this tag at the last read, "" when it answered. */
  error: string;
}

/** Where a rule's own address goes among the changes of one poll (see #watchList). */
const KIND_RANK: Record<MappingRule["kind"], number> = { counter: 1, trigger: 2, state: 3 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Values as the rules want them: 64-bit integers as numbers where exact, else as decimal text. */
export function ruleValue(value: PlcValue): unknown {
  if (typeof value !== "bigint") return value;
  const safe = value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER);
  return safe ? Number(value) : value.toString();
}

function numeric(value: PlcValue | undefined): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

/** `a` and `b` show the rules the same thing (NaN equals NaN; 1n equals 1n). */
function sameValue(a: PlcValue, b: PlcValue): boolean {
  return Object.is(a, b) || (typeof a === "bigint" && a === b);
}

function describeRule(rule: MappingRule): string {
  return `rule ${rule.id} (${rule.kind} ${rule.source || rule.address})`;
}

export class PlcSource implements Source {
  readonly name: string;
  readonly #opts: PlcSourceOptions;
  readonly #driver: PlcDriver;
  readonly #kind: PlcKind;
  #engine: RuleEngine | undefined;
  #sink: SourceSink | undefined;
  #watched: Watched[] = [];
  #tags: unknown[] = [];
  #connected = false;
  #everConnected = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wake: () => void = () => {};
  #chain: Promise<void> = Promise.resolve();
  #flushTimer: NodeJS.Timeout | undefined;
  #lastError = "";
  /** Resolves once the first poll or the first failure is over. */
  #firstRound: () => void = () => {};
  readonly #counts = {
    connected: 0,
    polls: 0,
    /** Milliseconds the last poll's read took. */
    poll_ms: 0,
    /** Polls that started later than their interval because the one before took longer. */
    overruns: 0,
    /** Reads that failed as a whole (PLC unreachable, connection lost). */
    read_errors: 0,
    /** Tags the PLC refused at a read (illegal address, no such tag), summed over polls. */
    tag_errors: 0,
    /** Addresses no poll reads because they do not parse. */
    bad_addresses: 0,
    /** Tags read at every poll. */
    tags: 0,
    type_changes: 0,
    reconnects: 0,
    connect_failures: 0,
    changes: 0,
    events: 0,
    unmapped: 0,
    invalid_values: 0,
    accept_errors: 0,
  };

  constructor(opts: PlcSourceOptions) {
    this.#opts = opts;
    this.#driver = opts.driver;
    this.#kind = opts.driver.protocol;
    this.name = `${this.#kind}:${opts.connection}`;
  }

  get statePrefix(): string {
    return `${this.#kind}/${this.#opts.connection}/`;
  }

  /** The driver is connected and its last read answered. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Why the PLC is not read right now ("" while it is). */
  get lastError(): string {
    return this.#lastError;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    const rules = this.#opts.rules.filter((rule) => rule.protocol === this.#kind);
    this.#engine = await RuleEngine.load(sink, {
      connection: this.#opts.connection,
      revision: this.#opts.revision,
      rules,
      statePrefix: this.statePrefix,
    });
    this.#watched = this.#watchList(this.#engine.addresses(), rules);
    this.#tags = this.#watched.map((w) => w.tag);
    this.#counts.tags = this.#watched.length;
    this.#flushTimer = setInterval(() => void this.#enqueue(() => this.#flush()), this.#opts.flushIntervalMs ?? 1_000);
    // The first read's values are the baseline; an unreachable PLC must not keep the sidecar from
    // delivering what it spooled, so `start` waits for one round at most, and polling runs behind.
    const firstRound = new Promise<void>((resolve) => {
      this.#firstRound = resolve;
    });
    this.#loop = this.#run();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      firstRound,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#opts.startTimeoutMs ?? 5_000);
      }),
    ]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake();
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    await this.#loop;
    await this.#chain;
    await this.#driver.close().catch(() => {});
    this.#setConnected(false);
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  /**
   * Parses every address once; one that does not parse is said with the rules
   * that use it, and skipped. The list is ordered for changes one poll sees
   * together, whose true order is unknown: values rules read (order, reason,
   * fields) first, then counters, triggers and states — the last parts before
   * the completion, an order started before its machine's setup, completed
   * before the machine goes idle.
   */
  #watchList(addresses: string[], rules: MappingRule[]): Watched[] {
    const watched: Watched[] = [];
    for (const address of addresses) {
      const readers = rules.filter((rule) => rule.address === address || auxiliaryAddresses(rule).includes(address));
      let tag: unknown;
      try {
        tag = this.#driver.parse(address);
      } catch (err) {
        this.#counts.bad_addresses++;
        this.#log(
          "error",
          `${this.#kind}: address ${JSON.stringify(address)} of ${readers.map(describeRule).join(", ")} is not read: ${(err as Error).message}`,
        );
        continue;
      }
      watched.push({
        address,
        tag,
        rules: readers,
        deadband: this.#deadbandOf(address, readers),
        last: undefined,
        type: undefined,
        error: "",
      });
    }
    const rank = (entry: Watched) =>
      Math.min(4, ...entry.rules.filter((rule) => rule.address === entry.address).map((rule) => KIND_RANK[rule.kind]));
    return watched
      .map((entry, index) => ({
        entry,
        index,
        rank: entry.rules.some((r) => r.address === entry.address) ? rank(entry) : 0,
      }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index)
      .map(({ entry }) => entry);
  }

  /**
   * The raw change below which no reader of the address wants an observation:
   * a rule's `deadband` is after its scale, so it is divided by |scale|; a
   * rule reading the address as order, reason or field wants every change.
   */
  #deadbandOf(address: string, readers: MappingRule[]): number {
    let smallest = Number.POSITIVE_INFINITY;
    for (const rule of readers) {
      if (rule.address !== address) {
        smallest = 0;
        continue;
      }
      const { deadband, scale } = rule.params;
      if (deadband === undefined || deadband === null || deadband === 0) {
        smallest = 0;
        continue;
      }
      if (typeof deadband !== "number" || !Number.isFinite(deadband) || deadband < 0) {
        this.#log(
          "error",
          `${this.#kind}: ${describeRule(rule)}: deadband ${JSON.stringify(deadband)} is not a non-negative number; every change is observed`,
        );
        smallest = 0;
        continue;
      }
      const factor = typeof scale === "number" && Number.isFinite(scale) && scale !== 0 ? Math.abs(scale) : 1;
      smallest = Math.min(smallest, deadband / factor);
    }
    return Number.isFinite(smallest) ? smallest : 0;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let scheduled: number | undefined;
    while (!this.#stopping) {
      if (!this.#connected) {
        try {
          await this.#driver.connect();
        } catch (err) {
          this.#counts.connect_failures++;
          this.#failed(`cannot connect: ${(err as Error).message}`);
          this.#firstRound();
          await this.#driver.close().catch(() => {});
          await this.#pause(this.#backoff(attempt++));
          continue;
        }
        if (this.#everConnected) this.#counts.reconnects++;
        this.#everConnected = true;
        this.#setConnected(true);
        attempt = 0;
      }
      // Polls keep to a schedule (start + k × interval), so timer lateness does not add up over a shift.
      scheduled ??= Date.now();
      const ok = await this.#poll();
      this.#firstRound();
      if (!ok) {
        await this.#driver.close().catch(() => {});
        this.#setConnected(false);
        scheduled = undefined;
        await this.#pause(this.#backoff(attempt++));
        continue;
      }
      scheduled += Math.max(MIN_POLL_INTERVAL_MS, this.#opts.pollIntervalMs);
      const wait = scheduled - Date.now();
      if (wait > 0) await this.#pause(wait);
      else {
        // Late: the next poll starts now, and the schedule starts again from it.
        this.#counts.overruns++;
        scheduled = Date.now();
      }
    }
  }

  #backoff(attempt: number): number {
    return Math.max(50, backoffDelay(attempt, this.#opts.reconnect ?? PLC_RECONNECT_BACKOFF));
  }

  /** One read of every tag; false when the PLC did not answer (the caller reconnects). */
  async #poll(): Promise<boolean> {
    if (this.#tags.length === 0) {
      this.#recovered();
      return true;
    }
    const started = performance.now();
    let reads: Awaited<ReturnType<PlcDriver["read"]>>;
    try {
      reads = await this.#driver.read(this.#tags);
    } catch (err) {
      this.#counts.read_errors++;
      const lost = err instanceof PlcUnreachableError ? "" : " (driver fault)";
      this.#failed(`read failed${lost}: ${(err as Error).message}`);
      return false;
    }
    const readAt = new Date();
    this.#counts.polls++;
    this.#counts.poll_ms = Math.round(performance.now() - started);
    this.#recovered();
    const batch: Observation[] = [];
    this.#watched.forEach((watched, index) => {
      const read = reads[index];
      if (!read) {
        this.#tagFailed(watched, "the driver gave no answer for this tag");
        return;
      }
      if (!read.ok) {
        this.#tagFailed(watched, read.error);
        return;
      }
      if (watched.error) {
        this.#log("info", `${this.#kind}: address ${watched.address} reads again`);
        watched.error = "";
      }
      const value = read.value;
      const type = typeof value;
      if (watched.type !== undefined && watched.type !== type) {
        this.#counts.type_changes++;
        this.#log(
          "error",
          `${this.#kind}: address ${watched.address} of ${watched.rules.map(describeRule).join(", ")} changed type from ${watched.type} to ${type} (value ${String(value)}): check the address and the PLC program`,
        );
      }
      watched.type = type;
      const last = watched.last;
      if (last !== undefined) {
        if (sameValue(last, value)) return;
        const before = numeric(last);
        const now = numeric(value);
        if (before !== undefined && now !== undefined && Math.abs(now - before) < watched.deadband) return;
      }
      watched.last = value;
      this.#counts.changes++;
      batch.push({ address: watched.address, value: ruleValue(value), sourceTime: readAt, receivedAt: readAt });
    });
    if (batch.length > 0) {
      const engine = this.#engine as RuleEngine;
      // The next poll waits for this commit: a full spool slows polling down instead of piling up.
      await this.#enqueue(() => this.#apply(engine.observe(batch)));
    }
    return true;
  }

  #tagFailed(watched: Watched, error: string): void {
    this.#counts.tag_errors++;
    if (watched.error === error) return;
    watched.error = error;
    this.#log(
      "error",
      `${this.#kind}: address ${watched.address} of ${watched.rules.map(describeRule).join(", ")}: ${error}; the other tags are still read`,
    );
  }

  #setConnected(connected: boolean): void {
    this.#connected = connected;
    this.#counts.connected = connected ? 1 : 0;
  }

  /** The PLC is not read: said once per distinct reason, not at every attempt. */
  #failed(reason: string): void {
    this.#setConnected(false);
    if (reason === this.#lastError) return;
    this.#lastError = reason;
    this.#log("error", `${this.name}: ${reason}; retrying with backoff`);
  }

  #recovered(): void {
    if (!this.#lastError) return;
    this.#log("info", `${this.name}: reading again (was: ${this.#lastError})`);
    this.#lastError = "";
  }

  /** Waits `ms`, or less when stop() is called. */
  #pause(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #flush(): Promise<void> {
    if (this.#engine) await this.#apply(this.#engine.flush(new Date()));
  }

  async #apply(result: EngineResult): Promise<void> {
    this.#counts.unmapped += result.unmapped;
    this.#counts.invalid_values += result.invalid.length;
    for (const reason of result.invalid) this.#log("warn", `${this.#kind}: ${reason}`);
    if (result.events.length === 0 && Object.keys(result.state).length === 0) return;
    const items = result.events.map((event: CloudEvent): Intake => ({ kind: "event", event }));
    for (let attempt = 1; ; attempt++) {
      try {
        await (this.#sink as SourceSink).accept(items, result.state);
        break;
      } catch (err) {
        // The engine has moved on in memory: a failed commit is retried, never skipped.
        this.#counts.accept_errors++;
        this.#log(
          "error",
          `${this.#kind}: spool commit failed (attempt ${attempt}), retrying: ${(err as Error).message}`,
        );
        if (this.#stopping && attempt >= 3) throw err;
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
    this.#counts.events += result.events.length;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(work).catch((err: unknown) => {
      this.#log("error", `${this.#kind}: ${(err as Error).message}`);
    });
    return this.#chain;
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#opts.log?.(level, message);
  }
}
