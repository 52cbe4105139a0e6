// Local date-times read in a named zone, against CPython's zoneinfo (the system's tz database),
// an implementation written by nobody here: around every clock change of 2025 and 2026 in zones
// with the awkward rules (half-hour DST, +12:45, southern hemisphere, DST abolished), each wall
// time every 15 minutes either side must be the same instant, or a gap on both sides.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readLocal, readZoned, zoneOf } from "./wall-time.ts";

const ZONES = [
  "Europe/Berlin",
  "America/New_York",
  "America/Sao_Paulo",
  "Australia/Lord_Howe",
  "Pacific/Chatham",
  "Asia/Kolkata",
  "America/St_Johns",
  "Africa/Casablanca",
  "Europe/Dublin",
];

// For each zone: every offset change in 2025-2026, and the wall times every 15 min from 3 h before
// to 3 h after it (local, as read before the change); each with its instant (fold=0: the first of
// a wall time the zone has twice), or null when the zone skips it.
const PYTHON = `
import json, sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
out = []
for name in json.load(sys.stdin):
    zone = ZoneInfo(name)
    at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    previous = at.astimezone(zone).utcoffset()
    while at < datetime(2027, 1, 1, tzinfo=timezone.utc):
        at += timedelta(minutes=15)
        offset = at.astimezone(zone).utcoffset()
        if offset == previous:
            continue
        wall = (at - timedelta(minutes=15)).astimezone(zone).replace(tzinfo=None)
        for step in range(-12, 13):
            local = wall + timedelta(minutes=15 * step)
            utc = local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
            back = utc.astimezone(zone).replace(tzinfo=None)
            text = local.isoformat(sep=" ")
            out.append([name, text, None if back != local else (utc - EPOCH) // timedelta(milliseconds=1)])
        previous = offset
json.dump(out, sys.stdout)
`;

describe("a local date-time read in a named zone", () => {
  it("is the instant CPython's zoneinfo gives, around every clock change of 2025 and 2026", () => {
    const run = spawnSync("python3", ["-c", PYTHON], { input: JSON.stringify(ZONES), encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const cases = JSON.parse(run.stdout) as [string, string, number | null][];
    const differences = cases.flatMap(([name, text, expected]) => {
      const zone = zoneOf(name);
      if (typeof zone === "string") return [{ name, text, expected, got: zone }];
      const got = readLocal(text, zone);
      const same = expected === null ? typeof got === "string" && got.includes("does not exist") : got === expected;
      return same ? [] : [{ name, text, expected, got }];
    });
    expect(differences.slice(0, 10)).toEqual([]);
    // The run reached skipped and doubled wall times, in every zone that changes its clocks.
    expect(cases.filter(([, , expected]) => expected === null).length).toBeGreaterThan(50);
    expect(new Set(cases.map(([name]) => name)).size).toBeGreaterThanOrEqual(ZONES.length - 2);
  });

  it("at a fixed offset, and in UTC, is the text's own arithmetic, for any date and time", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2199-12-31T23:59:59Z"), noInvalidDate: true }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offsetMinutes) => {
          const text = date.toISOString().slice(0, 23).replace("T", " ");
          const sign = offsetMinutes < 0 ? "-" : "+";
          const abs = Math.abs(offsetMinutes);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
          const zone = zoneOf(offset);
          expect(readLocal(text, zone as Exclude<typeof zone, string>)).toBe(date.getTime() - offsetMinutes * 60_000);
          expect(readZoned(`${text}${offset}`)).toBe(date.getTime() - offsetMinutes * 60_000);
          expect(readLocal(text, { iana: "UTC" })).toBe(date.getTime());
        },
      ),
      { seed: 5, numRuns: 500 },
    );
  });

  it("says why a text, a date or a zone is none", () => {
    const berlin = zoneOf("Europe/Berlin") as Exclude<ReturnType<typeof zoneOf>, string>;
    expect(readLocal("2026-02-29 08:00", berlin)).toBe("has day 29, and 2026-02 has 28 days");
    expect(readLocal("2028-02-29 08:00", berlin)).toBe(Date.UTC(2028, 1, 29, 7));
    expect(readLocal("2026-13-01 08:00", berlin)).toBe("has month 13");
    expect(readLocal("2026-01-01 24:00", berlin)).toBe("has hour 24:00 (00:00 to 23:59)");
    expect(readLocal("2026-01-01 08:00:60", berlin)).toContain("has second 60");
    expect(readLocal("2026-03-29 02:30:00", berlin)).toBe(
      "does not exist in Europe/Berlin (the clocks went forward over it)",
    );
    // Twice in Berlin: 02:30 CEST (00:30Z) first, 02:30 CET (01:30Z) an hour later; the first.
    expect(readLocal("2026-10-25 02:30:00", berlin)).toBe(Date.UTC(2026, 9, 25, 0, 30));
    expect(readLocal("2026-10-25 02:30:00.1234567", berlin)).toBe(Date.UTC(2026, 9, 25, 0, 30, 0, 123));
    expect(readZoned("2026-01-02 03:04+0100")).toBe(Date.UTC(2026, 0, 2, 2, 4));
    expect(readZoned("2026-01-02T03:04:05 Z")).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(readZoned("2026-01-02 03:04+2400")).toBe("has offset +2400 (at most ±23:59)");
    expect(zoneOf("Europe/Berln")).toBe(
      '"Europe/Berln" is no time zone: an IANA name such as Europe/Berlin, or an offset such as +01:00',
    );
    expect(zoneOf("+24:00")).toBe('"+24:00" is no offset (at most ±23:59)');
    expect(zoneOf("-05")).toEqual({ offsetMs: -5 * 3_600_000 });
    expect(zoneOf("UTC")).toEqual({ offsetMs: 0 });
  });
});
