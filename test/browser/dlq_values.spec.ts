// The dead-letter list against a real Odoo 18: rejected input and a rejected
// event without a type show "—" (or the type their payload claims) in the
// Type column, never Odoo's `false`.
import { expect, type Page, test } from "@playwright/test";
import { demoEvent, login, odooUrl, rpc, shot } from "./support.ts";

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");

test("dead letters: a rejected event with no type and unreadable input show '—', a claimed type is shown", async ({
  page,
}) => {
  const errors = watchConsole(page);
  const tag = `novalue-${process.pid}-${Date.now()}`;
  const untyped: Record<string, unknown> = demoEvent("unused", { reason_code: "MAT" }, { id: `${tag}-event` });
  delete untyped.type;
  const rejectedInput = (id: string, raw: Uint8Array | string) => ({
    rejected: true,
    id,
    source: "plant1/line1/press-01",
    connection: "plant1-mqtt",
    raw_b64: b64(raw),
    raw_size: Buffer.from(raw).length,
    reason: "no payload mapping matched",
    observedtime: new Date().toISOString(),
  });
  // As the demo plant's sidecar would send them.
  const results = await rpc("sidecar@plant1", "sidecar").ingest([
    untyped,
    rejectedInput(`${tag}-bytes`, new Uint8Array([0x08, 0xff, 0x01, 0x12])),
    rejectedInput(`${tag}-claims`, JSON.stringify({ type: "counter.tick", count: 3 })),
  ] as never);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);

  await login(page, "admin", "admin");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${odooUrl()}/odoo/shopfloor-dlq`);
  await page.getByLabel("Search").fill(tag);
  await page.keyboard.press("Enter");
  await expect(page.locator(".o_sfb_row")).toHaveCount(3);
  const typeOf = (suffix: string) => page.locator(`.o_sfb_row[data-uid="${tag}-${suffix}"] .o_sfb_type`);
  await expect(typeOf("event")).toHaveText("—");
  await expect(typeOf("bytes")).toHaveText("—");
  await expect(typeOf("claims")).toHaveText("counter.tick");
  const table = (await page.locator(".o_sfb_dlq_table").textContent()) ?? "";
  expect(table).not.toMatch(/\b(false|null|undefined|NaN)\b/);
  expect(table).not.toContain("[object Object]");
  await page.screenshot({ path: shot("dlq_type_column"), fullPage: true });

  await page.locator(`.o_sfb_row[data-uid="${tag}-bytes"]`).click();
  await expect(page.locator(".o_sfb_detail_title")).toHaveText(`(not an event) · ${tag}-bytes`);
  await page.locator(`.o_sfb_row[data-uid="${tag}-claims"]`).click();
  await expect(page.locator(".o_sfb_detail_title")).toHaveText(`counter.tick · ${tag}-claims`);
  expect((await page.locator(".o_sfb_detail").textContent()) ?? "").not.toMatch(/\b(false|null|undefined)\b/);
  expect(errors).toEqual([]);
});
