import { describe, expect, it } from "vitest";
import { globToRegExp, isWorkInProgress } from "./source.ts";

describe("file names", () => {
  it("a pattern of * and ? is matched whole and case-insensitively", () => {
    const pattern = globToRegExp("line2_*.csv");
    expect(pattern.test("line2_2026-01-05.csv")).toBe(true);
    expect(pattern.test("LINE2_X.CSV")).toBe(true);
    expect(pattern.test("line2_x.csv.bak")).toBe(false);
    expect(pattern.test("xline2_.csv")).toBe(false);
    expect(globToRegExp("a?.csv").test("ab.csv")).toBe(true);
    expect(globToRegExp("a?.csv").test("abc.csv")).toBe(false);
    // Regular-expression characters in a name are plain characters.
    expect(globToRegExp("(a)+[b].csv").test("(a)+[b].csv")).toBe(true);
  });

  it("names of files being written, and the source's own reason files, are never taken", () => {
    for (const name of [
      "x.csv.tmp",
      "x.CSV.PART",
      "x.partial",
      "~x.csv",
      ".x.csv",
      "x.csv.reason.txt",
      "x.crdownload",
    ]) {
      expect(isWorkInProgress(name), name).toBe(true);
    }
    expect(isWorkInProgress("x.csv")).toBe(false);
  });
});
