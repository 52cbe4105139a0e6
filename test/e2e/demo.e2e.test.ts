// The README's run command, as a newcomer runs it: it must bring up Odoo with
// the module on a fresh database, print the URL and login, and stop on Ctrl-C.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { dropDatabase, freePort, repoRoot } from "../../sidecar/devstack/odoo.ts";

it("npm run demo starts Odoo with the module, prints URL and login, stops cleanly on SIGINT", async () => {
  const port = await freePort();
  const db = `sfb_demo_e2e_${process.pid}`;
  const child = spawn(
    process.execPath,
    [join(repoRoot, "sidecar/devstack/demo.ts"), "--port", String(port), "--db", db],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    await expect.poll(() => out, { timeout: 240_000, interval: 500 }).toMatch(/Login:\s+admin \/ admin/);
    const url = /Odoo:\s+(\S+)/.exec(out)?.[1];
    expect(url).toBe(`http://127.0.0.1:${port}/odoo/shopfloor-bridge`);

    const login = await fetch(`http://127.0.0.1:${port}/web/session/authenticate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", params: { db, login: "admin", password: "admin" } }),
    });
    const body = (await login.json()) as { result?: { uid?: number } };
    expect(body.result?.uid).toBe(2);

    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("[demo] stopped");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await dropDatabase(db);
  }
});
