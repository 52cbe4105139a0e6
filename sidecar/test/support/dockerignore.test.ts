// The .dockerignore matcher follows Docker's rules (the examples of
// https://docs.docker.com/build/concepts/context/#dockerignore-files).
import { describe, expect, it } from "vitest";
import { isIgnored, parseDockerignore } from "./dockerignore.ts";

const ignored = (rules: string, path: string) => isIgnored(parseDockerignore(rules), path);

describe("dockerignore rules", () => {
  it("`*` stays in one directory, `?` is one character, `**` spans any number of them", () => {
    expect(ignored("*/temp*", "somedir/temporary.txt")).toBe(true);
    expect(ignored("*/temp*", "temp")).toBe(false);
    expect(ignored("*/temp*", "a/b/temp")).toBe(false);
    expect(ignored("*/*/temp*", "somedir/subdir/temporary.txt")).toBe(true);
    expect(ignored("temp?", "tempa")).toBe(true);
    expect(ignored("temp?", "tempab")).toBe(false);
    expect(ignored("**/*.go", "a.go")).toBe(true);
    expect(ignored("**/*.go", "x/y/a.go")).toBe(true);
    expect(ignored("sidecar/**/*.test.ts", "sidecar/a.test.ts")).toBe(true);
    expect(ignored("sidecar/**/*.test.ts", "sidecar/src/x/a.test.ts")).toBe(true);
    expect(ignored("sidecar/**/*.test.ts", "sidecar/src/x/a.ts")).toBe(false);
    expect(ignored("*.md", "docs/a.md")).toBe(false);
  });

  it("a matched directory takes everything under it; a leading / and comments are ignored", () => {
    expect(ignored("sidecar/test", "sidecar/test/support/odoo/testing.ts")).toBe(true);
    expect(ignored("/sidecar/test/", "sidecar/test/a.ts")).toBe(true);
    expect(ignored("sidecar/test", "sidecar/testing.ts")).toBe(false);
    expect(ignored("# sidecar/test\n", "sidecar/test/a.ts")).toBe(false);
    expect(ignored("a.b", "axb")).toBe(false);
  });

  it("`!` re-includes and the last matching line decides", () => {
    const rules = "*.md\n!README*.md\nREADME-secret.md";
    expect(ignored(rules, "notes.md")).toBe(true);
    expect(ignored(rules, "README-public.md")).toBe(false);
    expect(ignored(rules, "README-secret.md")).toBe(true);
    expect(ignored("dev\n!dev/keep.ts", "dev/keep.ts")).toBe(false);
    expect(ignored("dev\n!dev/keep.ts", "dev/other.ts")).toBe(true);
    expect(ignored("!dev/keep.ts\ndev", "dev/keep.ts")).toBe(true);
  });
});
