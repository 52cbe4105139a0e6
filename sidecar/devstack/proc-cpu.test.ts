import { spawn } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  clockTicks,
  cpuDelta,
  listProcesses,
  type ProcStat,
  parseStat,
  readStat,
  rootWithArg,
  sampleOf,
  TreeCpuMeter,
  treeOf,
} from "./proc-cpu.ts";

/** A stat line as Linux writes it (52 fields), with the fields the parser reads set. */
function statLine(p: Omit<ProcStat, "comm"> & { comm: string }): string {
  const fields = Array.from({ length: 52 }, () => "0");
  fields[0] = String(p.pid);
  fields[1] = `(${p.comm})`;
  fields[2] = "S";
  fields[3] = String(p.ppid);
  fields[13] = String(p.utime);
  fields[14] = String(p.stime);
  fields[15] = String(p.cutime);
  fields[16] = String(p.cstime);
  fields[21] = String(p.starttime);
  return `${fields.join(" ")}\n`;
}

const proc = (pid: number, ppid: number, ticks: number, starttime = pid): ProcStat => ({
  pid,
  comm: `p${pid}`,
  ppid,
  utime: ticks,
  stime: 0,
  cutime: 0,
  cstime: 0,
  starttime,
});

describe("parseStat", () => {
  it("reads the fields after a command name with spaces and parentheses", () => {
    const line = statLine({
      pid: 4242,
      comm: "odoo (w) 2) x",
      ppid: 17,
      utime: 1500,
      stime: 230,
      cutime: 12,
      cstime: 3,
      starttime: 998877,
    });
    expect(parseStat(line)).toEqual({
      pid: 4242,
      comm: "odoo (w) 2) x",
      ppid: 17,
      utime: 1500,
      stime: 230,
      cutime: 12,
      cstime: 3,
      starttime: 998877,
    });
  });

  it("round-trips any command name and counters (property)", () => {
    const counter = fc.integer({ min: 0, max: 2 ** 40 });
    fc.assert(
      fc.property(
        fc.record({
          pid: fc.integer({ min: 1, max: 4_194_304 }),
          comm: fc.string({ maxLength: 15 }).filter((s) => !s.includes("\n") && !s.includes("\0")),
          ppid: fc.integer({ min: 0, max: 4_194_304 }),
          utime: counter,
          stime: counter,
          cutime: counter,
          cstime: counter,
          starttime: counter,
        }),
        (p) => {
          expect(parseStat(statLine(p))).toEqual(p);
        },
      ),
    );
  });

  it("refuses what is not a stat line, naming it", () => {
    expect(() => parseStat("hello")).toThrow(/not a \/proc\/<pid>\/stat line/);
    expect(() => parseStat("12 (x) S 1 2")).toThrow(/field 14 is not a number/);
  });

  it("reads this process from the real /proc", () => {
    const self = readStat(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(self?.ppid).toBe(process.ppid);
    expect(readStat(2 ** 30)).toBeUndefined();
    expect(clockTicks()).toBeGreaterThan(0);
  });
});

describe("process trees and CPU deltas", () => {
  it("a tree is the root and every descendant, nothing else", () => {
    const procs = [proc(1, 0, 0), proc(10, 1, 0), proc(11, 10, 0), proc(12, 10, 0), proc(13, 12, 0), proc(20, 1, 0)];
    expect(
      treeOf(10, procs)
        .map((p) => p.pid)
        .sort((a, b) => a - b),
    ).toEqual([10, 11, 12, 13]);
    expect(treeOf(99, procs)).toEqual([]);
  });

  it("counts a reaped worker through its parent, and a new one in full", () => {
    const before = sampleOf([proc(10, 1, 100), proc(11, 10, 40)]);
    // Worker 11 used 60 ticks more, then died; the master reaped it (cutime 100); worker 12 was born and used 5.
    const after = sampleOf([{ ...proc(10, 1, 130), cutime: 100 }, proc(12, 10, 5)]);
    expect(cpuDelta(before, after, true)).toEqual({ ticks: 30 + 60 + 5, lost: 0 });
  });

  it("a reused pid is another process; unreaped exits are reported as lost", () => {
    const before = sampleOf([proc(5, 1, 50, 1000)]);
    const after = sampleOf([proc(5, 1, 7, 2000)]);
    expect(cpuDelta(before, after, false)).toEqual({ ticks: 7, lost: 1 });
  });

  it("finds a prefork server's root by its command line and measures a busy child", async () => {
    const marker = `--sfb-proc-cpu-test=${process.pid}`;
    // A parent that forks a child burning CPU: both carry the marker.
    const script =
      "const {spawn}=require('node:child_process');" +
      "spawn(process.execPath,['-e','const e=Date.now()+1500;while(Date.now()<e);','--',process.argv[1]],{stdio:'ignore'});" +
      "setTimeout(()=>{},5000);";
    const parent = spawn(process.execPath, ["-e", script, "--", marker], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const root = rootWithArg(marker, listProcesses());
      expect(root.pid).toBe(parent.pid);
      const meter = new TreeCpuMeter(root.pid);
      await new Promise((r) => setTimeout(r, 1000));
      expect(meter.seconds()).toBeGreaterThan(0.2);
      expect(() => rootWithArg("--no-such-arg-anywhere", listProcesses())).toThrow(/found 0/);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
