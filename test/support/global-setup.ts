// Builds the Odoo template database once, before test files run in parallel.
import { ensureTemplate } from "../../sidecar/devstack/odoo.ts";

export default async function setup(): Promise<void> {
  await ensureTemplate((msg) => console.log(msg));
}
