// ARCHITECTURE.md names files and functions; each one must exist, so the
// page cannot drift from the code unnoticed. Mentions are backticked:
// `path/to/file.ext`, `path/to/folder/`, `path/to/file.ext:name` or
// `path/to/file.ext:Class.method` (a private TS method as `Class.#method`).
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../sidecar/bench/figures.ts";

interface Mention {
  path: string;
  symbol?: string;
}

function mentions(markdown: string): Mention[] {
  const found: Mention[] = [];
  for (const match of markdown.matchAll(/`([\w.-]+(?:\/[\w.-]*)+)(?::([\w.#]+))?`/g)) {
    found.push({ path: match[1] as string, symbol: match[2] });
  }
  return found;
}

const escapeRegExp = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The text of the top-level block (class) that starts at `start`, up to the next top-level definition. */
function block(text: string, start: number, python: boolean): string {
  const rest = text.slice(start);
  const next = rest
    .slice(1)
    .search(python ? /\n(class |def )/ : /\n(export )?(abstract )?(class|function|const|interface) /);
  return next === -1 ? rest : rest.slice(0, next + 1);
}

/** Where `symbol` is defined in `text`, or undefined. */
function definesSymbol(text: string, symbol: string, python: boolean): boolean {
  const [owner, member] = symbol.split(".") as [string, string | undefined];
  const top = python
    ? new RegExp(`^(class|def) ${escapeRegExp(owner)}\\b|^${escapeRegExp(owner)}\\s*[:=]`, "m")
    : new RegExp(
        `^(export\\s+)?(default\\s+)?(abstract\\s+)?(async\\s+)?(function|class|const|let|interface|type)\\s+${escapeRegExp(owner)}\\b`,
        "m",
      );
  const at = text.search(top);
  if (at === -1) return false;
  if (member === undefined) return true;
  const method = python
    ? new RegExp(`^\\s+def ${escapeRegExp(member)}\\(`, "m")
    : new RegExp(`^\\s+(static\\s+)?(async\\s+)?(get\\s+|set\\s+)?${escapeRegExp(member)}\\s*[(<]`, "m");
  return method.test(block(text, at, python));
}

/** What is wrong with one mention, or undefined when it exists. */
function checkMention(root: string, mention: Mention): string | undefined {
  const file = join(root, mention.path);
  if (!existsSync(file)) return `${mention.path}: no such file or folder`;
  if (mention.symbol === undefined) return undefined;
  if (statSync(file).isDirectory()) return `${mention.path}: a folder has no ${mention.symbol}`;
  const python = mention.path.endsWith(".py");
  return definesSymbol(readFileSync(file, "utf8"), mention.symbol, python)
    ? undefined
    : `${mention.path}: defines no ${mention.symbol}`;
}

describe("ARCHITECTURE.md", () => {
  const doc = readFileSync(join(REPO_ROOT, "ARCHITECTURE.md"), "utf8");
  const all = mentions(doc);

  it("names files and functions", () => {
    expect(all.length).toBeGreaterThan(40);
    expect(all.filter((m) => m.symbol).length).toBeGreaterThan(25);
  });

  it("every path and function it names exists", () => {
    const wrong = all.map((m) => checkMention(REPO_ROOT, m)).filter(Boolean);
    expect(wrong).toEqual([]);
  });
});

describe("the mention checker", () => {
  it("reads paths, folders, functions and methods", () => {
    expect(mentions("see `a/b.ts:C.#d`, `a/`, `x/y.py`, `Pipeline.accept` and `mrp.production`")).toEqual([
      { path: "a/b.ts", symbol: "C.#d" },
      { path: "a/", symbol: undefined },
      { path: "x/y.py", symbol: undefined },
    ]);
  });

  it("fails on a missing file, a missing function and a method of the wrong class", () => {
    expect(checkMention(REPO_ROOT, { path: "sidecar/src/nope.ts" })).toMatch(/no such file/);
    expect(checkMention(REPO_ROOT, { path: "sidecar/src/pipeline.ts", symbol: "Pipeline.nope" })).toMatch(
      /defines no Pipeline.nope/,
    );
    expect(checkMention(REPO_ROOT, { path: "sidecar/src/delivery.ts", symbol: "Delivery.toRecord" })).toMatch(
      /defines no/,
    );
    const py = "class A:\n    def a(self):\n        pass\n\n\nclass B:\n    def b(self):\n        pass\n";
    expect(definesSymbol(py, "A.a", true)).toBe(true);
    expect(definesSymbol(py, "A.b", true)).toBe(false);
    expect(definesSymbol(py, "B.b", true)).toBe(true);
    expect(definesSymbol("HANDLERS = {}\n", "HANDLERS", true)).toBe(true);
    const ts = "export class A {\n  async #go(): Promise<void> {}\n}\nexport function f() {}\n";
    expect(definesSymbol(ts, "A.#go", false)).toBe(true);
    expect(definesSymbol(ts, "A.go", false)).toBe(false);
    expect(definesSymbol(ts, "f", false)).toBe(true);
  });
});
