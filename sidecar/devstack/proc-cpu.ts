// CPU time of other processes, read from Linux's /proc (proc(5)): the
// benchmarks charge Odoo's and PostgreSQL's CPU to the events they applied.
//
// A sample maps each process (pid + start time, so a reused pid is another
// process) to its CPU ticks: utime + stime, plus cutime + cstime (what its
// children that it waited for used). A delta between two samples is then
// exact for a process tree whose members reap each other (Odoo's prefork
// server reaps its workers, the postmaster its backends): a worker that died
// in between is counted through its parent's cutime/cstime, minus what it
// had already used at the first sample.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Clock ticks (see clockTicks) in user and kernel mode. */
  utime: number;
  stime: number;
  /** Ticks of the children this process waited for. */
  cutime: number;
  cstime: number;
  /** Ticks after boot when the process started: with pid, one process for good. */
  starttime: number;
}

/**
 * Parses /proc/<pid>/stat. The command name is in parentheses and may hold
 * spaces and parentheses itself, so the fields are counted from its last `)`.
 */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  // Fields 3 (state) onwards; field N is rest[N - 3].
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isInteger(value)) throw new Error(`/proc/${pid}/stat field ${n} is not a number: ${rest[n - 3]}`);
    return value;
  };
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`/proc stat line has no pid: ${text.slice(0, 80)}`);
  return {
    pid,
    comm: text.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    starttime: field(22),
  };
}

/** Clock ticks per second (`getconf CLK_TCK`; 100 on Linux). */
export function clockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // getconf missing: Linux's USER_HZ is 100 on every architecture.
  }
  return 100;
}

/** The stat of one process, or undefined when it is gone. */
export function readStat(pid: number, root = "/proc"): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`${root}/${pid}/stat`, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ESRCH") {
      return undefined;
    }
    throw err;
  }
}

/** Every process visible now (those that exit while being read are left out). */
export function listProcesses(root = "/proc"): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync(root)) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name), root);
    if (stat) out.push(stat);
  }
  return out;
}

/** `rootPid` and all its descendants among `procs`. */
export function treeOf(rootPid: number, procs: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcStat[] = [];
  const todo = procs.filter((p) => p.pid === rootPid);
  const seen = new Set<number>();
  while (todo.length > 0) {
    const p = todo.pop() as ProcStat;
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Ticks per process, keyed `pid:starttime`. */
export type CpuSample = Map<string, number>;

export function sampleOf(procs: readonly ProcStat[]): CpuSample {
  return new Map(procs.map((p) => [`${p.pid}:${p.starttime}`, p.utime + p.stime + p.cutime + p.cstime]));
}

/**
 * Ticks used between two samples of one set of processes. Processes only in
 * `after` started in between (all their ticks count). A process only in
 * `before` exited: when `reaped` (its parent is in the set and waited for it,
 * so its ticks reappear in the parent's cutime/cstime) what it had used at
 * `before` is taken off again; otherwise its ticks after `before` are lost
 * and `lost` counts such processes so a caller can say so.
 */
export function cpuDelta(before: CpuSample, after: CpuSample, reaped: boolean): { ticks: number; lost: number } {
  let ticks = 0;
  let lost = 0;
  for (const [key, value] of after) ticks += value - (before.get(key) ?? 0);
  for (const [key, value] of before) {
    if (after.has(key)) continue;
    if (reaped) ticks -= value;
    else lost++;
  }
  return { ticks, lost };
}

/** The command line of a process as its arguments ([] when it is gone or unreadable). */
export function cmdlineOf(pid: number, root = "/proc"): string[] {
  try {
    return readFileSync(`${root}/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The topmost process among `procs` whose command line has `arg`: the one
 * whose parent does not have it too (a prefork server's workers inherit its
 * command line). Throws when none or several such roots are found.
 */
export function rootWithArg(arg: string, procs: readonly ProcStat[], cmdline = cmdlineOf): ProcStat {
  const matching = procs.filter((p) => cmdline(p.pid).includes(arg));
  const pids = new Set(matching.map((p) => p.pid));
  const roots = matching.filter((p) => !pids.has(p.ppid));
  if (roots.length !== 1) {
    throw new Error(`expected one process tree with ${arg} on its command line, found ${roots.length}`);
  }
  return roots[0] as ProcStat;
}

/** CPU seconds of a process tree since the meter was made (reaped workers included). */
export class TreeCpuMeter {
  readonly #rootPid: number;
  readonly #ticks = clockTicks();
  #start: CpuSample;
  constructor(rootPid: number) {
    this.#rootPid = rootPid;
    this.#start = this.#sample();
  }
  #sample(): CpuSample {
    return sampleOf(treeOf(this.#rootPid, listProcesses()));
  }
  /** Starts counting again from now. */
  reset(): void {
    this.#start = this.#sample();
  }
  seconds(): number {
    return cpuDelta(this.#start, this.#sample(), true).ticks / this.#ticks;
  }
}

/**
 * CPU seconds of a changing set of processes (e.g. the backends of one
 * database), resampled by `pids()` at each reading; a member that exited
 * in between loses what it used after the first sample (see `lost`).
 */
export class PidSetCpuMeter {
  readonly #pids: () => number[];
  readonly #ticks = clockTicks();
  #start: CpuSample;
  constructor(pids: () => number[]) {
    this.#pids = pids;
    this.#start = this.#sample();
  }
  #sample(): CpuSample {
    const procs = this.#pids()
      .map((pid) => readStat(pid))
      .filter((p): p is ProcStat => p !== undefined);
    // A backend's own ticks only: its children (parallel query workers) belong to the postmaster.
    return new Map(procs.map((p) => [`${p.pid}:${p.starttime}`, p.utime + p.stime]));
  }
  reset(): void {
    this.#start = this.#sample();
  }
  read(): { seconds: number; lost: number } {
    const { ticks, lost } = cpuDelta(this.#start, this.#sample(), false);
    return { seconds: ticks / this.#ticks, lost };
  }
}
