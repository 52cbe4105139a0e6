// `shopfloor-sidecar run | replay | spool stats | spool list | simulate`.
// Exit codes (DESIGN.md): 0 clean stop, 2 bad configuration (message names
// the key), 1 anything else.
import { existsSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, loadBootstrap, loadSpoolDir, logLevel } from "./config.ts";
import { MAX_INGEST_BATCH } from "./core/contract.ts";
import { SIDECAR_VERSION, Sidecar, spoolPath } from "./main.ts";
import { createOdooClient } from "./odoo/connect.ts";
import { OdooAuthError } from "./odoo/errors.ts";
import { createLogger } from "./ops/log.ts";
import { SPOOL_STATES, type SpoolStateName } from "./spool/spool.ts";
import { SqliteSpool } from "./spool/sqlite-spool.ts";

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`shopfloor-sidecar: bad configuration: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`shopfloor-sidecar: ${(err as Error)?.stack ?? String(err)}\n`);
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

function openSpool(configFile: string | undefined): SqliteSpool {
  const dir = loadSpoolDir(configFile);
  const path = spoolPath(dir);
  if (!existsSync(path)) throw new ConfigError("SHOPFLOOR_SPOOL_DIR", `no spool at ${path}`);
  return new SqliteSpool({ path });
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
      const log = createLogger(logLevel());
      let sidecar: Sidecar | undefined;
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "stopping: draining in-flight work");
        // Whatever hangs, the process ends: what is not committed is redelivered by the broker.
        setTimeout(() => {
          log.error("graceful stop took longer than 30 s: exiting");
          process.exit(1);
        }, 30_000).unref();
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
      for (;;) {
        const page = await spool.range(range, after, Math.min(opts.batch, MAX_INGEST_BATCH));
        if (page.length === 0) break;
        const results = await odoo.ingest(page.map((e) => e.item));
        for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        // Items still queued were delivered now: record it so delivery does not send them again.
        await spool.markDelivered(
          page
            .map((e, i) => ({ e, r: results[i] }))
            .filter(({ e }) => e.st.state === "queued")
            .map(({ e, r }) => ({
              seq: e.seq,
              status: r?.status ?? "pending",
              odooEventId: r?.event_id ?? 0,
              error: r?.error ?? "",
            })),
        );
        after = (page[page.length - 1] as { seq: number }).seq;
        done += page.length;
        bar.update(done);
      }
      bar.stop();
      await spool.close();
      process.stdout.write(`${JSON.stringify({ replayed: done, statuses })}\n`);
    } catch (err) {
      fail(err);
    }
  });

const spoolCmd = program.command("spool").description("inspect the spool (no Odoo needed)");
spoolCmd
  .command("stats")
  .description("backlog, delivered items by Odoo status, capacity")
  .action(async () => {
    try {
      const spool = openSpool(program.opts().config);
      const stats = await spool.stats();
      await spool.close();
      process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
    } catch (err) {
      fail(err);
    }
  });
spoolCmd
  .command("list")
  .description("list spooled items in a state (queued: oldest first; delivered: newest first)")
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
      for (const e of await spool.list(opts.state, opts.limit)) {
        const item = e.item as { type?: string; rejected?: boolean; reason?: string };
        process.stdout.write(
          `${JSON.stringify({
            seq: e.seq,
            source: e.source,
            id: e.eventId,
            type: item.rejected ? "(rejected input)" : item.type,
            reason: item.rejected ? item.reason : undefined,
            time: new Date(e.timeMs).toISOString(),
            ...e.st,
          })}\n`,
        );
      }
      await spool.close();
    } catch (err) {
      fail(err);
    }
  });

program
  .command("simulate")
  .description("run the line simulator (sidecar/simulator)")
  .allowUnknownOption(true)
  .helpOption(false)
  .argument("[args...]")
  .action(async (args: string[]) => {
    const url = new URL("../simulator/cli.ts", import.meta.url);
    if (!existsSync(url)) {
      process.stderr.write(`shopfloor-sidecar: the simulator is not installed (no ${url.pathname})\n`);
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

await program.parseAsync(process.argv).catch(fail);
