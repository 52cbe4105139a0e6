// jsdom lacks a few browser APIs OWL's scheduler and the screens use.
import { registerTemplates } from "./templates.ts";

if (typeof globalThis.requestAnimationFrame !== "function") {
  globalThis.requestAnimationFrame = (cb: FrameRequestCallback) =>
    setTimeout(() => cb(performance.now()), 0) as unknown as number;
  globalThis.cancelAnimationFrame = (h: number) => clearTimeout(h);
}

// The components' .xml templates, as Odoo's asset bundle registers them.
registerTemplates();
