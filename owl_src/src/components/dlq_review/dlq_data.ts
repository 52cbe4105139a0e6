// What the review screen reads from and asks of the server: the records'
// shapes, the web_read/web_search_read specifications, and the calls.
import { claimedType } from "../../shared/states.ts";
import { DLQ_STATES, type DlqFilters, type DlqState, type Domain, dlqDomain } from "./dlq_query.ts";

export type { DlqDraft } from "./dlq_query.ts";

type Many2one = { id: number; display_name: string } | false;

export interface DlqRow {
  id: number;
  event_uid: string;
  source: string;
  /** False for input the sidecar could not read as an event (raw bytes kept). */
  type: string | false;
  time: string | false;
  /** Rejected events may have no (valid) time of their own. */
  ingest_time: string | false;
  state: string;
  attempts: number;
  error_class: string | false;
  error_message: string | false;
  connection_id: Many2one;
  workcenter_id: Many2one;
  /** Set by the screen, not read: the `type` the kept payload of a typeless rejected row claims. */
  claimed_type?: string;
}

export interface HistoryLine {
  id: number;
  date: string;
  user_id: Many2one;
  action: string;
  state: string | false;
  note: string | false;
}

export interface DlqDetail extends DlqRow {
  subject: string | false;
  data_json: string | false;
  raw_payload: string | false;
  /** Only part of the bytes was kept (over the event size limit). */
  raw_truncated: boolean;
  error_traceback: string | false;
  history_ids: HistoryLine[];
}

export interface DlqSummary {
  counts: Record<DlqState, number>;
  error_classes: { error_class: string; count: number }[];
  types: string[];
}

export interface Option {
  id: number;
  display_name: string;
}

/** Where a discard reason is asked for, and what it discards. */
export type ReasonTarget = { kind: "one" | "selection" | "sameError" };

/** Everything the review screen shows; its parts get slices of it as props. */
export interface DlqScreenState {
  loading: boolean;
  /** A server action is running: its buttons are disabled. */
  busy: boolean;
  error: string;
  isManager: boolean;
  rows: DlqRow[];
  total: number;
  offset: number;
  /** Index of the open row on the page, -1 for none. */
  cursor: number;
  selected: number[];
  detail: DlqDetail | null;
  summary: DlqSummary | null;
  connections: Option[];
  workcenters: Option[];
  filters: DlqFilters;
  editing: boolean;
  reasonFor: ReasonTarget | null;
}

export function initialState(filters: DlqFilters): DlqScreenState {
  return {
    loading: true,
    busy: false,
    error: "",
    isManager: false,
    rows: [],
    total: 0,
    offset: 0,
    cursor: -1,
    selected: [],
    detail: null,
    summary: null,
    connections: [],
    workcenters: [],
    filters,
    editing: false,
    reasonFor: null,
  };
}

export const EVENT = "shopfloor.event";
export const PAGE_SIZE = 50;
/** Kept payloads up to this many bytes are read for the type they claim (a page reads at most 50 of them). */
export const CLAIM_MAX_BYTES = 8192;

export const ROW_SPEC = {
  event_uid: {},
  source: {},
  type: {},
  time: {},
  ingest_time: {},
  state: {},
  attempts: {},
  error_class: {},
  error_message: {},
  connection_id: { fields: { display_name: {} } },
  workcenter_id: { fields: { display_name: {} } },
};

export const DETAIL_SPEC = {
  ...ROW_SPEC,
  subject: {},
  data_json: {},
  raw_payload: {},
  raw_truncated: {},
  error_traceback: {},
  history_ids: { fields: { date: {}, user_id: { fields: { display_name: {} } }, action: {}, state: {}, note: {} } },
};

/** The review screen's server calls, one method each. */
export class DlqServer {
  readonly orm: OdooOrmService;
  constructor(orm: OdooOrmService) {
    this.orm = orm;
  }

  /** One page of rows and the counts of every state, for the same filters. */
  async page(filters: DlqFilters, offset: number): Promise<[{ length: number; records: DlqRow[] }, DlqSummary]> {
    const [page, summary] = await Promise.all([
      this.orm.webSearchRead<DlqRow>(EVENT, dlqDomain(filters), {
        specification: ROW_SPEC,
        limit: PAGE_SIZE,
        offset,
        order: "time desc, id desc",
      }),
      this.orm.call<DlqSummary>("shopfloor.dashboard", "dlq_summary", [
        dlqDomain({ ...filters, states: [...DLQ_STATES], errorClass: "" }),
      ]),
    ]);
    await this.addClaimedTypes(page.records);
    return [page, summary];
  }

  /**
   * Rejected input the sidecar could not read as an event is stored without a
   * type; when its kept payload is a JSON object naming a `type`, the list shows
   * that. One read for the page, of the small payloads only; a failed read
   * leaves the rows as they are ("—").
   */
  async addClaimedTypes(rows: DlqRow[]): Promise<void> {
    const ids = rows.filter((r) => !r.type && r.state === "rejected").map((r) => r.id);
    if (!ids.length) return;
    const kept = await this.orm
      .searchRead<{ id: number; raw_payload: string | false }>(
        EVENT,
        [
          ["id", "in", ids],
          ["raw_size", "<=", CLAIM_MAX_BYTES],
        ],
        ["raw_payload"],
      )
      .catch(() => []);
    const claims = new Map(kept.map((k) => [k.id, claimedType(k.raw_payload)]));
    for (const row of rows) {
      const claim = claims.get(row.id);
      if (claim) row.claimed_type = claim;
    }
  }

  async detail(id: number): Promise<DlqDetail | undefined> {
    const [detail] = await this.orm.webRead<DlqDetail>(EVENT, [id], { specification: DETAIL_SPEC });
    return detail;
  }

  /** The filter options; a list the user may not read is simply empty. */
  options(model: "shopfloor.connection" | "mrp.workcenter"): Promise<Option[]> {
    return this.orm.searchRead<Option>(model, [], ["display_name"], { order: "name" }).catch(() => []);
  }

  retry(id: number): Promise<unknown> {
    return this.orm.call(EVENT, "action_retry", [[id]]);
  }
  editAndRetry(id: number, compact: string): Promise<unknown> {
    return this.orm.call(EVENT, "action_edit_and_retry", [[id], compact]);
  }
  discard(id: number, reason: string): Promise<unknown> {
    return this.orm.call(EVENT, "action_discard", [[id], reason]);
  }
  /** The window action of a new payload mapping form, prefilled from the event. */
  createPayloadMap(id: number): Promise<unknown> {
    return this.orm.call(EVENT, "action_create_payload_map", [[id]]);
  }
  bulk(domain: Domain, action: "retry" | "discard", reason: string): Promise<number> {
    return this.orm.call<number>(EVENT, "dlq_bulk", [domain, action, reason]);
  }
}
