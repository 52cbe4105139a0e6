// Filter and paging state of the dead-letter review, as plain data, and
// the Odoo domain it stands for. The server does the paging (limit/offset),
// so 100,000 dead events cost one page of rows in the browser.

export const DLQ_STATES = ["failed", "dead", "rejected"] as const;
export type DlqState = (typeof DLQ_STATES)[number];

export type DomainLeaf = [string, string, unknown];
export type Domain = (DomainLeaf | "&" | "|" | "!")[];

export interface DlqFilters {
  states: DlqState[];
  connectionId: number | null;
  eventType: string;
  errorClass: string;
  workcenterId: number | null;
  /** UTC "YYYY-MM-DD HH:MM:SS" bounds on the event time, or "". */
  timeFrom: string;
  timeTo: string;
  /** Free text: event id, source, subject or error message. */
  search: string;
}

export function emptyFilters(): DlqFilters {
  return {
    states: [...DLQ_STATES],
    connectionId: null,
    eventType: "",
    errorClass: "",
    workcenterId: null,
    timeFrom: "",
    timeTo: "",
    search: "",
  };
}

/** The filter form as typed, before it is applied (0 and "" mean any). */
export interface DlqDraft {
  search: string;
  connectionId: number;
  eventType: string;
  errorClass: string;
  workcenterId: number;
  /** datetime-local values: the browser's wall time. */
  timeFrom: string;
  timeTo: string;
}

/** What a link into the screen asks for (the dashboard's DLQ button: a connection; an error class). */
export function filtersFromContext(ctx: Record<string, unknown>): DlqFilters {
  const filters = emptyFilters();
  filters.connectionId = Number(ctx.sfb_connection_id) || null;
  if (typeof ctx.sfb_error_class === "string") filters.errorClass = ctx.sfb_error_class;
  return filters;
}

export function draftFromFilters(f: DlqFilters): DlqDraft {
  return {
    search: f.search,
    connectionId: f.connectionId ?? 0,
    eventType: f.eventType,
    errorClass: f.errorClass,
    workcenterId: f.workcenterId ?? 0,
    timeFrom: "",
    timeTo: "",
  };
}

/** The draft applied on top of the current filters (the states stay). */
export function applyDraft(f: DlqFilters, d: DlqDraft): DlqFilters {
  return {
    ...f,
    search: d.search,
    connectionId: d.connectionId || null,
    eventType: d.eventType,
    errorClass: d.errorClass,
    workcenterId: d.workcenterId || null,
    timeFrom: localToServer(d.timeFrom),
    timeTo: localToServer(d.timeTo),
  };
}

/** datetime-local gives local wall time; the domain wants UTC "YYYY-MM-DD HH:MM:SS". */
export function localToServer(value: string): string {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 19).replace("T", " ");
}

export function dlqDomain(f: DlqFilters): Domain {
  const states = f.states.length ? f.states : [...DLQ_STATES];
  const domain: Domain = [["state", "in", states]];
  if (f.connectionId) domain.push(["connection_id", "=", f.connectionId]);
  if (f.eventType) domain.push(["type", "=", f.eventType]);
  if (f.errorClass) domain.push(["error_class", "=", f.errorClass]);
  if (f.workcenterId) domain.push(["workcenter_id", "=", f.workcenterId]);
  if (f.timeFrom) domain.push(["time", ">=", f.timeFrom]);
  if (f.timeTo) domain.push(["time", "<=", f.timeTo]);
  const text = f.search.trim();
  if (text) {
    domain.push("|", "|", "|", ["event_uid", "ilike", text], ["source", "ilike", text]);
    domain.push(["subject", "ilike", text], ["error_message", "ilike", text]);
  }
  return domain;
}

/** The domain of "all events with this error" within the current filters. */
export function sameErrorDomain(f: DlqFilters, errorClass: string): Domain {
  return dlqDomain({ ...f, errorClass });
}

export interface Page {
  offset: number;
  limit: number;
  total: number;
}

/** "1–50 / 100,000"; the screen passes Odoo's integer formatter (the user's separators). */
export function pageLabel(p: Page, count: (n: number) => string): string {
  if (p.total === 0) return "0";
  const last = Math.min(p.offset + p.limit, p.total);
  return `${count(p.offset + 1)}–${count(last)} / ${count(p.total)}`;
}

export function nextOffset(p: Page): number {
  return p.offset + p.limit < p.total ? p.offset + p.limit : p.offset;
}

export function previousOffset(p: Page): number {
  return Math.max(0, p.offset - p.limit);
}

/** Where the cursor goes after the rows under it left the list (retried, discarded). */
export function cursorAfterRemoval(cursor: number, rowsLeft: number): number {
  if (rowsLeft <= 0 || cursor < 0) return -1;
  return Math.min(Math.max(cursor, 0), rowsLeft - 1);
}
