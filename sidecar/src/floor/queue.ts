// The planning message as Odoo builds it (shopfloor.dispatch, payload) and
// the pure helpers every floor writer shares: shape checks, the flat
// per-slot view of a queue, and the key that scopes "last written version".
import type { DispatchMessage } from "../core/ports.ts";
import { FloorWriteError } from "./errors.ts";

/** One order in a workcenter's queue; slot 0 runs next. */
export interface QueueEntry {
  slot: number;
  order: string;
  workorder: string;
  product: string;
  qty: number;
  uom: string;
  /** MO priority (0 normal, 1 urgent). */
  priority: number;
  /** Planned start, ISO 8601 UTC, or "" when not planned. */
  start: string;
}

/** `payload` of a DispatchMessage (module: shopfloor.dispatch._build_payload). */
export interface QueuePayload {
  workcenter: string;
  version: number;
  /** Slots the floor shows; the queue holds at most that many entries. */
  depth: number;
  /** What made Odoo build this message (priority, confirm, cancel, reschedule, manual, …). */
  reason: string;
  /** The order whose change caused the message, or false (manual push, reschedule of many). */
  changed: Omit<QueueEntry, "slot"> | false;
  queue: QueueEntry[];
  generated_at: string;
}

/** The per-slot fields a floor target addresses (OPC UA node / Sparkplug metric per field). */
export const SLOT_FIELDS = ["order", "product", "qty", "priority", "start"] as const;
export type SlotField = (typeof SLOT_FIELDS)[number];

/** Tag names as Ignition shows them (`Queue/0/Order`). */
export const SLOT_TAG_NAMES: Record<SlotField, string> = {
  order: "Order",
  product: "Product",
  qty: "Qty",
  priority: "Priority",
  start: "Start",
};

/** Value written to an empty slot, so a shorter queue clears what was there. */
export const EMPTY_SLOT: Record<SlotField, string | number> = {
  order: "",
  product: "",
  qty: 0,
  priority: 0,
  start: "",
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a pulled message before anything touches the floor. A malformed
 * message is a module bug or a hand-edited row: it fails (not retried)
 * with a reason a person can read in Odoo.
 */
export function parseQueuePayload(message: DispatchMessage): QueuePayload {
  const payload = message.payload;
  const problems: string[] = [];
  if (!isRecord(payload)) throw new FloorWriteError("payload is not an object", { retryable: false });
  if (!Number.isInteger(message.version) || message.version < 1) problems.push("version must be a positive integer");
  if (!Array.isArray(payload.queue)) problems.push("queue must be a list");
  const depth = payload.depth;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 0) problems.push("depth must be an integer ≥ 0");
  const queue: QueueEntry[] = [];
  if (Array.isArray(payload.queue)) {
    payload.queue.forEach((raw, index) => {
      if (!isRecord(raw)) {
        problems.push(`queue[${index}] is not an object`);
        return;
      }
      const qty = Number(raw.qty);
      const priority = Number(raw.priority);
      if (!Number.isFinite(qty)) problems.push(`queue[${index}].qty is not a number`);
      if (!Number.isFinite(priority)) problems.push(`queue[${index}].priority is not a number`);
      queue.push({
        slot: index,
        order: String(raw.order ?? ""),
        workorder: String(raw.workorder ?? ""),
        product: String(raw.product ?? ""),
        qty,
        uom: String(raw.uom ?? ""),
        priority,
        start: typeof raw.start === "string" ? raw.start : "",
      });
    });
  }
  if (typeof depth === "number" && queue.length > depth)
    problems.push(`queue has ${queue.length} entries for depth ${depth}`);
  if (problems.length) {
    throw new FloorWriteError(`malformed dispatch message ${message.id}: ${problems.join("; ")}`, { retryable: false });
  }
  return {
    workcenter: String(payload.workcenter ?? message.workcenter),
    version: message.version,
    depth: depth as number,
    reason: String(payload.reason ?? ""),
    changed: isRecord(payload.changed) ? (payload.changed as QueuePayload["changed"]) : false,
    queue,
    generated_at: String(payload.generated_at ?? ""),
  };
}

/** Every slot up to `depth`, empty ones filled with EMPTY_SLOT: what the floor should show. */
export function slotValues(payload: QueuePayload): Record<SlotField, string | number>[] {
  const slots: Record<SlotField, string | number>[] = [];
  for (let slot = 0; slot < payload.depth; slot++) {
    const entry = payload.queue[slot];
    slots.push(
      entry
        ? { order: entry.order, product: entry.product, qty: entry.qty, priority: entry.priority, start: entry.start }
        : { ...EMPTY_SLOT },
    );
  }
  return slots;
}

/** The queue as one JSON document (QueueJson tag, MQTT body, Sparkplug Json metric). */
export function queueDocument(payload: QueuePayload): string {
  return JSON.stringify({
    workcenter: payload.workcenter,
    version: payload.version,
    reason: payload.reason,
    changed: payload.changed,
    queue: payload.queue,
    generated_at: payload.generated_at,
  });
}

/** Scope of "last written version": one workcenter on one floor destination. */
export function versionKey(kind: string, destination: string, workcenter: string): string {
  return `${kind}|${destination}|${workcenter}`;
}

export function stringParam(params: Record<string, unknown>, name: string, fallback = ""): string {
  const value = params[name];
  return typeof value === "string" && value !== "" ? value : fallback;
}
