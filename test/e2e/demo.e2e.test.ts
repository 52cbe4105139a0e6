// The README's run command, as a newcomer runs it: Odoo with the demo plant,
// broker, sidecar and line simulator; within a minute or two Odoo shows work
// orders progressing, downtime and scrap, and the malformed messages in the
// DLQ; Ctrl-C stops everything cleanly.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { dropDatabase, freePort, repoRoot } from "../../sidecar/devstack/odoo.ts";
import { JsonRpcOdooClient } from "../../sidecar/src/odoo/jsonrpc-client.ts";

async function rpc<T>(
  port: number,
  db: string,
  model: string,
  method: string,
  args: unknown[],
  kwargs = {},
): Promise<T> {
  const client = new JsonRpcOdooClient({ url: `http://127.0.0.1:${port}`, db, user: "admin", apiKey: "admin" });
  return (await client.execute(model, method, args, kwargs)) as T;
}

it("npm run demo brings up the whole chain, shows the shift in Odoo, and stops on SIGINT", async () => {
  const port = await freePort();
  const db = `sfb_demo_e2e_${process.pid}`;
  const child = spawn(
    process.execPath,
    [join(repoRoot, "sidecar/devstack/demo.ts"), "--port", String(port), "--db", db, "--step-ms", "100"],
    // Its own process group, like a command in a terminal: Ctrl-C reaches the
    // whole group, and a failed test can kill Odoo, sidecar and simulators too.
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  const group = -(child.pid ?? 0);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const count = (domain: unknown[]) => rpc<number>(port, db, "shopfloor.event", "search_count", [domain]);
  try {
    await expect.poll(() => out, { timeout: 240_000, interval: 500 }).toMatch(/Login:\s+admin \/ admin/);
    expect(/Odoo:\s+(\S+)/.exec(out)?.[1]).toBe(`http://127.0.0.1:${port}/odoo/shopfloor-dashboard`);

    // The shift as Odoo records it.
    await expect
      .poll(
        () =>
          count([
            ["state", "=", "applied"],
            ["type", "=", "workorder.completed"],
          ]),
        { timeout: 120_000, interval: 2000 },
      )
      .toBe(4);
    expect(
      await count([
        ["state", "=", "applied"],
        ["type", "=", "downtime.started"],
      ]),
    ).toBeGreaterThan(0);
    expect(
      await count([
        ["state", "=", "applied"],
        ["type", "=", "scrap.reported"],
      ]),
    ).toBeGreaterThan(0);
    expect(
      await count([
        ["state", "=", "applied"],
        ["type", "=", "quality.hold"],
      ]),
    ).toBe(1);
    // The simulator's malformed messages wait in the DLQ with a reason.
    await expect.poll(() => count([["state", "=", "rejected"]]), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const rejected = await rpc<{ error_message: string }[]>(
      port,
      db,
      "shopfloor.event",
      "search_read",
      [[["state", "=", "rejected"]]],
      {
        fields: ["error_message"],
      },
    );
    for (const r of rejected) expect(r.error_message).not.toBe("");
    // Nothing else went wrong on the way.
    expect(await count([["state", "in", ["failed", "dead"]]])).toBe(0);
    // Both operations of the two simulated orders are done with the parts counted.
    const refs = await rpc<{ res_id: number }[]>(
      port,
      db,
      "ir.model.data",
      "search_read",
      [
        [
          ["module", "=", "shopfloor_bridge"],
          ["name", "in", ["demo_mo_hinge_1", "demo_mo_mount_1"]],
        ],
      ],
      { fields: ["res_id"] },
    );
    const wos = await rpc<{ state: string; qty_produced: number }[]>(
      port,
      db,
      "mrp.workorder",
      "search_read",
      [[["production_id", "in", refs.map((r) => r.res_id)]]],
      { fields: ["state", "qty_produced"] },
    );
    expect(wos.map((w) => [w.state, w.qty_produced])).toEqual([
      ["done", 12],
      ["done", 12],
      ["done", 12],
      ["done", 12],
    ]);
    // The drifting machine (its clock runs 2 min ahead) is flagged by its skew.
    const drifted = await rpc<{ skew_ms: number }[]>(
      port,
      db,
      "shopfloor.event",
      "search_read",
      [[["source", "=", "plant1/line2/press-02"], "|", ["skew_ms", ">", 60_000], ["skew_ms", "<", -60_000]]],
      { fields: ["skew_ms"], limit: 1 },
    );
    expect(drifted.length).toBe(1);

    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    process.kill(group, "SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("[demo] stopped");
  } finally {
    try {
      process.kill(group, "SIGKILL");
    } catch {
      // the group is gone: everything stopped by itself
    }
    await dropDatabase(db);
  }
});
