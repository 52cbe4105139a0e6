// Asking the floor from a form: `shopfloor.probe.request` records the
// question for the connection's sidecar, then `status` is polled until it is
// answered, failed or expired (the server expires a question no sidecar
// took, naming the sidecar and its last report). The browser gives up on its
// own only if the server stops answering too, so a form never waits forever.
import { _t } from "../../shared/web.ts";

export const PROBE_MODEL = "shopfloor.probe";
/** How often the form asks whether the answer is there. */
export const STATUS_POLL_MS = 150;

export type ProbeOp = "browse" | "read";

/** One node of the server's address space as the sidecar describes it (sidecar/src/probe/opcua-probe.ts). */
export interface NodeInfo {
  node_id: string;
  browse_name: string;
  display_name: string;
  node_class: string;
  data_type?: string;
  value?: unknown;
  status?: string;
  source_time?: string;
  writable?: boolean;
  expandable: boolean;
}

export interface BrowseAnswer {
  node: NodeInfo;
  children: NodeInfo[];
  truncated: boolean;
}

/** A PLC read once (sidecar/src/probe/plc-probe.ts). */
export interface PlcReadAnswer {
  address: string;
  value: string | number | boolean;
  data_type: string;
  protocol: string;
  read_ms: number;
}

export type ProbeOutcome<T> = { ok: true; result: T; answerMs: number } | { ok: false; error: string; code: string };

interface ProbeStatus {
  id: number;
  state: "pending" | "taken" | "done" | "failed" | "expired";
  result: unknown;
  error: string;
  error_code: string;
  answer_ms: number;
}

type Orm = Pick<OdooOrmService, "call">;
type Sleep = (ms: number) => Promise<void>;

const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Asks once and waits for the outcome. Errors of the request itself (not an
 * admin, a connection kind that cannot answer) are outcomes too, with the
 * server's sentence.
 */
export async function askProbe<T>(
  orm: Orm,
  connectionId: number,
  op: ProbeOp,
  target: string,
  options: { sleep?: Sleep; now?: () => number; isCancelled?: () => boolean } = {},
): Promise<ProbeOutcome<T>> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  let asked: { id: number; pickup_s: number; answer_s: number };
  try {
    asked = await orm.call(PROBE_MODEL, "request", [connectionId, op, target]);
  } catch (err) {
    return { ok: false, error: errorSentence(err), code: "refused" };
  }
  // The server expires the question by then; a little more for the round trips.
  const giveUpAt = now() + (asked.pickup_s + asked.answer_s + 5) * 1000;
  for (;;) {
    if (options.isCancelled?.()) return { ok: false, error: _t("Cancelled."), code: "cancelled" };
    let status: ProbeStatus | undefined;
    try {
      [status] = await orm.call<ProbeStatus[]>(PROBE_MODEL, "status", [[asked.id]]);
    } catch (err) {
      return { ok: false, error: errorSentence(err), code: "refused" };
    }
    if (!status) return { ok: false, error: _t("The request is gone (removed on the server)."), code: "gone" };
    if (status.state === "done") return { ok: true, result: status.result as T, answerMs: status.answer_ms };
    if (status.state === "failed" || status.state === "expired") {
      return { ok: false, error: status.error, code: status.error_code || status.state };
    }
    if (now() > giveUpAt) {
      return { ok: false, error: _t("No answer from the sidecar and none from the server about it."), code: "timeout" };
    }
    await sleep(STATUS_POLL_MS);
  }
}

function errorSentence(err: unknown): string {
  const e = err as { data?: { message?: string }; message?: string };
  return e?.data?.message || e?.message || String(err);
}

/** A value as the picker shows it: exact, as the floor holds it (an address is checked against it, so no locale rounding); bytes by size. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object" && value && "base64" in value) {
    const bytes = Math.floor(((value as { base64: string }).base64.length * 3) / 4);
    return _t("%s bytes", bytes);
  }
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** A many2one's id from a record's data (Odoo 18 sends `{id, display_name}`; older shapes `[id, name]`). */
export function many2oneId(value: unknown): number | false {
  if (Array.isArray(value)) return typeof value[0] === "number" ? value[0] : false;
  if (value && typeof value === "object" && "id" in value) {
    const id = (value as { id: unknown }).id;
    return typeof id === "number" ? id : false;
  }
  return typeof value === "number" ? value : false;
}
