// What the review screen reads from the server: the records' shapes and the
// web_read/web_search_read specifications that fetch them.
import type { DlqState } from "./dlq_query.ts";

type Many2one = { id: number; display_name: string } | false;

export interface DlqRow {
  id: number;
  event_uid: string;
  source: string;
  type: string;
  time: string | false;
  /** Rejected events may have no (valid) time of their own. */
  ingest_time: string | false;
  state: string;
  attempts: number;
  error_class: string | false;
  error_message: string | false;
  connection_id: Many2one;
  workcenter_id: Many2one;
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

/** The filter form as typed, before it is applied. */
export interface DlqDraft {
  search: string;
  connectionId: number;
  eventType: string;
  errorClass: string;
  workcenterId: number;
  timeFrom: string;
  timeTo: string;
}

/** Where a discard reason is asked for, and what it discards. */
export type ReasonTarget = { kind: "one" | "selection" | "sameError" };

export const EVENT = "shopfloor.event";
export const PAGE_SIZE = 50;

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
  error_traceback: {},
  history_ids: { fields: { date: {}, user_id: { fields: { display_name: {} } }, action: {}, state: {}, note: {} } },
};
