// What a Docker build context keeps: .dockerignore rules applied to a tree the
// way Docker's pattern matcher (github.com/moby/patternmatcher) does, so a
// test can list the files an image's COPY receives without a Docker daemon.
//   - one pattern a line; blank lines and `#` comments skipped; leading `/` dropped;
//   - `*` any run of characters but `/`, `?` one such character, `**` any number
//     of directories (zero included), `**` at the end anything;
//   - a pattern matching a parent directory matches every file under it;
//   - `!pattern` re-includes; the last pattern that matches decides.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";

export interface IgnoreRule {
  readonly text: string;
  readonly negated: boolean;
  readonly regex: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    if (negated) line = line.slice(1).trim();
    let pattern = posix.normalize(line);
    if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    if (pattern.length > 1 && pattern.endsWith("/")) pattern = pattern.slice(0, -1);
    rules.push({ text: pattern, negated, regex: toRegex(pattern) });
  }
  return rules;
}

function toRegex(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") i++;
        re += i + 1 >= pattern.length ? ".*" : "(.*/)?";
      } else {
        re += "[^/]*";
      }
    } else if (ch === "?") {
      re += "[^/]";
    } else if (ch === "\\" && i + 1 < pattern.length) {
      re += `\\${pattern[++i]}`;
    } else if (ch === "[" || ch === "]") {
      re += ch;
    } else {
      re += ch.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  return new RegExp(`${re}$`);
}

/** True when the rules leave `path` (relative to the context, `/`-separated) out of the context. */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split("/");
  let ignored = false;
  for (const rule of rules) {
    // As patternmatcher: an exclusion can only add, an exception only remove.
    if (rule.negated !== ignored) continue;
    let match = rule.regex.test(path);
    for (let i = 1; !match && i < parts.length; i++) match = rule.regex.test(parts.slice(0, i).join("/"));
    if (match) ignored = !rule.negated;
  }
  return ignored;
}

/**
 * The files under `roots` (context-relative files or directories) that the
 * context keeps. An ignored directory is not entered unless an exception
 * pattern could re-include something inside it (Docker walks the same way).
 */
export function keptFiles(contextDir: string, rules: readonly IgnoreRule[], roots: readonly string[]): string[] {
  const kept: string[] = [];
  const visit = (rel: string): void => {
    const abs = join(contextDir, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      if (isIgnored(rules, rel) && !rules.some((r) => r.negated && r.text.startsWith(`${rel}/`))) return;
      for (const name of readdirSync(abs).sort()) visit(`${rel}/${name}`);
    } else if (!isIgnored(rules, rel)) {
      kept.push(rel);
    }
  };
  for (const root of roots) visit(posix.normalize(root));
  return kept;
}

/** The local sources of a Dockerfile's COPY/ADD instructions (not `--from` stages). */
export function copySources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const line of readFileSync(dockerfile, "utf8").split("\n")) {
    const m = /^\s*(?:COPY|ADD)\s+(.*)$/i.exec(line);
    if (!m) continue;
    const words = (m[1] as string).trim().split(/\s+/);
    if (words.some((w) => w.startsWith("--from"))) continue;
    const args = words.filter((w) => !w.startsWith("--"));
    sources.push(...args.slice(0, -1));
  }
  return sources;
}
