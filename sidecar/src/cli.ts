// `shopfloor-sidecar run | replay | spool stats | list | log | park | unpark | skip | simulate`.
// Exit codes (README.md, Configuration): 0 clean stop, 2 bad configuration or a bad
// argument (the message names it), 1 anything else.
import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, GRACEFUL_STOP_MS, loadBootstrap, loadSpoolSettings, logLevel } from "./config.ts";
import { MAX_INGEST_BATCH } from "./core/contract.ts";
import { Redactor } from "./core/secrets.ts";
import { SIDECAR_VERSION, Sidecar, spoolPath } from "./main.ts";
import { createOdooClient } from "./odoo/connect.ts";
import { OdooAuthError } from "./odoo/errors.ts";
import { createLogger } from "./ops/log.ts";
import {
  SPOOL_STATES,
  type SpoolAction,
  SpoolActionError,
  type SpoolEntry,
  type SpoolStateName,
} from "./spool/spool.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";

/** A missing or bad command-line argument (exit 2, like bad configuration). */
class UsageError extends Error {}

/**
 * Everything the CLI prints and logs passes it: the API key and the
 * configuration's secrets are registered as soon as they are known.
 */
const redactor = new Redactor();

function print(text: string): void {
  process.stdout.write(redactor.text(text));
}

function printError(text: string): void {
  process.stderr.write(redactor.text(text));
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    printError(`shopfloor-sidecar: bad configuration: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    printError(`shopfloor-sidecar: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof SpoolActionError) {
    printError(`shopfloor-sidecar: ${err.message}\n`);
    process.exit(1);
  }
  printError(`shopfloor-sidecar: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function time(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`"${value}" is not a date/time (ISO 8601)`);
  return ms;
}

/** Who runs the command, for the spool's action log. */
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

function seqList(values: string[]): number[] {
  const bad = values.filter((v) => !/^[1-9][0-9]*$/.test(v));
  if (bad.length > 0) throw new UsageError(`<seq>: ${bad.map((v) => `"${v}"`).join(", ")} is not a spool seq`);
  return values.map(Number);
}

/** A spool row as `spool list` prints it: one JSON object a line. */
function entryLine(e: SpoolEntry): string {
  const item = e.item as { type?: string; rejected?: boolean; reason?: string };
  let st: Record<string, unknown> = { ...e.st };
  if (e.st.state === "parked" || e.st.state === "skipped") {
    // Why it was parked or skipped goes under `note`: `reason` is a rejected input's.
    const { reason, by, at, ...rest } = e.st;
    st = { ...rest, note: { reason, by, at: new Date(at).toISOString() } };
  }
  return JSON.stringify({
    seq: e.seq,
    source: e.source,
    id: e.eventId,
    type: item.rejected ? "(rejected input)" : item.type,
    reason: item.rejected ? item.reason : undefined,
    time: new Date(e.timeMs).toISOString(),
    ...st,
  });
}

function openSpool(configFile: string | undefined): SqliteSpool {
  const { spoolDir, secretKey } = loadSpoolSettings(configFile);
  const path = spoolPath(spoolDir);
  if (!existsSync(path)) throw new ConfigError("SHOPFLOOR_SPOOL_DIR", `no spool at ${path}`);
  return new SqliteSpool({ path, secretKey });
}

const program = new Command()
  .name("shopfloor-sidecar")
  .description("Shop-floor sidecar: MQTT / Sparkplug B / OPC UA → durable spool → Odoo 18")
  .version(SIDECAR_VERSION)
  .option("-c, --config <file>", "file with the bootstrap keys (JSON or KEY=VALUE lines); overrides the environment");

program
  .command("run")
  .description("ingest from the connection's sources, spool, deliver to Odoo")
  .option("--spool-capacity-events <n>", "most undelivered items in the spool before sources are paused", positiveInt)
  .option("--spool-capacity-mb <n>", "most undelivered megabytes in the spool", positiveInt)
  .option("--heartbeat-ms <n>", "heartbeat interval", positiveInt, 15_000)
  .option("--spool-fsync", "fsync every group commit (survives power loss, not only a killed process)")
  .action(
    async (opts: {
      spoolCapacityEvents?: number;
      spoolCapacityMb?: number;
      heartbeatMs: number;
      spoolFsync?: boolean;
    }) => {
      const log = createLogger(logLevel(), undefined, redactor);
      let sidecar: Sidecar | undefined;
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "stopping: draining in-flight work");
        // Whatever hangs, the process ends: what is not committed is redelivered by the broker.
        setTimeout(() => {
          log.error(`graceful stop took longer than ${GRACEFUL_STOP_MS / 1000} s: exiting`);
          process.exit(1);
        }, GRACEFUL_STOP_MS).unref();
        try {
          await sidecar?.stop();
          process.exit(0);
        } catch (err) {
          fail(err);
        }
      };
      process.on("SIGTERM", () => void shutdown("SIGTERM"));
      process.on("SIGINT", () => void shutdown("SIGINT"));
      try {
        const boot = loadBootstrap(program.opts().config);
        sidecar = await Sidecar.start({
          boot,
          log,
          redactor,
          heartbeatMs: opts.heartbeatMs,
          spoolSynchronous: opts.spoolFsync ? "FULL" : "NORMAL",
          spoolLimits: {
            ...(opts.spoolCapacityEvents ? { capacityEvents: opts.spoolCapacityEvents } : {}),
            ...(opts.spoolCapacityMb ? { capacityBytes: opts.spoolCapacityMb * 1024 * 1024 } : {}),
          },
        });
        if (stopping) await sidecar.stop();
      } catch (err) {
        fail(err);
      }
    },
  );

program
  .command("replay")
  .description(
    "send spooled items whose event time is in [from, to) to Odoo again (Odoo answers duplicates for what it has)",
  )
  .requiredOption("--from <time>", "start (ISO 8601, inclusive)", time)
  .requiredOption("--to <time>", "end (ISO 8601, exclusive)", time)
  .option("--source <source>", "only this CloudEvent source")
  .option("--batch <n>", "items per ingest call", positiveInt, 500)
  .action(async (opts: { from: number; to: number; source?: string; batch: number }) => {
    try {
      const boot = loadBootstrap(program.opts().config);
      redactor.add(boot.odooApiKey);
      const spool = openSpool(program.opts().config);
      const odoo = createOdooClient(boot);
      try {
        await odoo.sidecarConfig(boot.connection);
      } catch (err) {
        if (err instanceof OdooAuthError) throw new ConfigError("ODOO_API_KEY", err.message);
        throw err;
      }
      const range = { fromMs: opts.from, toMs: opts.to, source: opts.source };
      const total = await spool.countRange(range);
      const bar = new SingleBar({
        format: "replay [{bar}] {value}/{total} items | {eta_formatted} left",
        hideCursor: true,
        stream: process.stderr,
      });
      bar.start(total, 0);
      const statuses: Record<string, number> = {};
      let after = 0;
      let done = 0;
      let skipped = 0;
      for (;;) {
        const rows = await spool.range(range, after, Math.min(opts.batch, MAX_INGEST_BATCH));
        if (rows.length === 0) break;
        after = (rows[rows.length - 1] as { seq: number }).seq;
        done += rows.length;
        // A person gave skipped rows up: a replay does not send them behind their back.
        const page = rows.filter((e) => e.st.state !== "skipped");
        skipped += rows.length - page.length;
        if (page.length === 0) {
          bar.update(done);
          continue;
        }
        const results = await odoo.ingest(page.map((e) => e.item));
        for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        // Items still queued (or parked) were delivered now: record it so delivery does not send them again.
        await spool.markDelivered(
          page
            .map((e, i) => ({ e, r: results[i] }))
            .filter(({ e }) => e.st.state !== "delivered")
            .map(({ e, r }) => ({
              seq: e.seq,
              status: r?.status ?? "pending",
              odooEventId: r?.event_id ?? 0,
              error: r?.error ?? "",
            })),
        );
        bar.update(done);
      }
      bar.stop();
      await spool.close();
      const summary = { replayed: done - skipped, statuses, ...(skipped > 0 ? { skipped_not_sent: skipped } : {}) };
      print(`${JSON.stringify(summary)}\n`);
    } catch (err) {
      fail(err);
    }
  });

const spoolCmd = program
  .command("spool")
  .description("inspect the spool; park, unpark or skip rows (no Odoo needed; the sidecar may be running)");
spoolCmd
  .command("stats")
  .description("backlog (queued, parked), skipped, delivered items by Odoo status, capacity")
  .action(async () => {
    try {
      const spool = openSpool(program.opts().config);
      const stats = await spool.stats();
      await spool.close();
      print(`${JSON.stringify(stats, null, 2)}\n`);
    } catch (err) {
      fail(err);
    }
  });
spoolCmd
  .command("list")
  .description("list spooled items in a state (queued, parked: oldest first; delivered, skipped: newest first)")
  .requiredOption("--state <state>", `one of ${SPOOL_STATES.join(", ")}`, (v: string) => {
    if (!SPOOL_STATES.includes(v as SpoolStateName)) {
      throw new InvalidArgumentError(`must be one of ${SPOOL_STATES.join(", ")}`);
    }
    return v as SpoolStateName;
  })
  .option("--limit <n>", "most items", positiveInt, 50)
  .action(async (opts: { state: SpoolStateName; limit: number }) => {
    try {
      const spool = openSpool(program.opts().config);
      for (const e of await spool.list(opts.state, opts.limit)) print(`${entryLine(e)}\n`);
      await spool.close();
    } catch (err) {
      fail(err);
    }
  });
spoolCmd
  .command("log")
  .description("the spool's action log (park, unpark, skip: who, when, why), newest first")
  .option("--seq <n>", "only this row's lines", positiveInt)
  .option("--limit <n>", "most lines", positiveInt, 50)
  .action(async (opts: { seq?: number; limit: number }) => {
    try {
      const spool = openSpool(program.opts().config);
      for (const { eventId, at, ...line } of await spool.actionLog(opts.limit, opts.seq)) {
        // Named as `spool list` names them.
        const { seq, source, ...rest } = line;
        print(`${JSON.stringify({ seq, source, id: eventId, ...rest, at: new Date(at).toISOString() })}\n`);
      }
      await spool.close();
    } catch (err) {
      fail(err);
    }
  });

/** `spool park | unpark | skip <seq...>`: the rows change in the spool a running sidecar reads too. */
function actionCommand(action: SpoolAction, description: string, reasonRequired: boolean): void {
  spoolCmd
    .command(action)
    .description(description)
    .argument("<seq...>", "spool seqs (as `spool list` shows them)")
    .option("--reason <text>", `why (logged with the action)${reasonRequired ? "; required" : ""}`)
    .option("--by <name>", "who, for the log (default: the user running the command)")
    .action(async (values: string[], opts: { reason?: string; by?: string }) => {
      try {
        const seqs = seqList(values);
        const reason = opts.reason?.trim() || (reasonRequired ? "" : "put back in the queue");
        if (!reason) throw new UsageError(`--reason is required for spool ${action}: say why (it is logged)`);
        const by = opts.by?.trim() || currentUser();
        const spool = openSpool(program.opts().config);
        try {
          const changed = await spool[action](seqs, reason, by);
          print(`${JSON.stringify({ action, seqs, changed, reason, by })}\n`);
        } finally {
          await spool.close();
        }
      } catch (err) {
        fail(err);
      }
    });
}
actionCommand(
  "park",
  "take queued rows out of delivery (they keep counting against the capacity) until unparked or skipped",
  true,
);
actionCommand(
  "unpark",
  "put parked (or skipped) rows back in the queue in their own place, attempts reset, so they are delivered again",
  false,
);
actionCommand(
  "skip",
  "give queued or parked rows up: never delivered, kept for the retention window, then purged",
  true,
);

program
  .command("simulate")
  .description("run the line simulator (sidecar/simulator)")
  .allowUnknownOption(true)
  .helpOption(false)
  .argument("[args...]")
  .action(async (args: string[]) => {
    const url = new URL("../simulator/cli.ts", import.meta.url);
    if (!existsSync(url)) {
      printError(`shopfloor-sidecar: the simulator is not installed (no ${url.pathname})\n`);
      process.exit(1);
    }
    try {
      // A script-style simulator reads process.argv: give it its own arguments.
      process.argv = [process.argv[0] as string, url.pathname, ...args];
      const mod = (await import(url.href)) as { main?: (argv: string[]) => Promise<number | undefined> };
      if (typeof mod.main === "function") {
        const code = await mod.main(args);
        if (typeof code === "number") process.exitCode = code;
      }
    } catch (err) {
      fail(err);
    }
  });

// A crash is printed through the redactor too (Node's own printout would not be): exit 1 as Node's would.
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
await program.parseAsync(process.argv).catch(fail);
