import {
  Component,
  onWillStart,
  onWillUnmount,
  useEffect,
  useExternalListener,
  useRef,
  useState,
  xml,
} from "@odoo/owl";
import { errorText } from "../dashboard/dashboard.ts";
import { JsonView } from "../json_view/json_view.ts";
import { formatCount, formatTime, toServerDatetime } from "../shared/format.ts";
import { checkEditedPayload } from "../shared/json_highlight.ts";
import { LiveRefresh } from "../shared/live.ts";
import { BASE_CSS, useStyles } from "../shared/styles.ts";
import { _t, EVENTS_CHANGED, MANAGER_GROUP, registry, user, useService } from "../shared/web.ts";
import {
  cursorAfterRemoval,
  DLQ_STATES,
  type DlqFilters,
  type DlqState,
  type Domain,
  dlqDomain,
  emptyFilters,
  nextOffset,
  pageLabel,
  previousOffset,
  sameErrorDomain,
} from "./dlq_query.ts";
import { commandFor, type DlqCommand, MANAGER_COMMANDS } from "./keymap.ts";

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

interface Option {
  id: number;
  display_name: string;
}

const EVENT = "shopfloor.event";
export const PAGE_SIZE = 50;

const ROW_SPEC = {
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
const DETAIL_SPEC = {
  ...ROW_SPEC,
  subject: {},
  data_json: {},
  raw_payload: {},
  error_traceback: {},
  history_ids: { fields: { date: {}, user_id: { fields: { display_name: {} } }, action: {}, state: {}, note: {} } },
};

const CSS = `
.o_sfb_dlq_layout { display: grid; grid-template-columns: minmax(0, 3fr) minmax(320px, 2fr); gap: 1rem; align-items: start; }
.o_sfb_dlq_layout > section { min-width: 0; overflow-x: auto; }
@media (max-width: 1100px) { .o_sfb_dlq_layout { grid-template-columns: 1fr; } }
.o_sfb_dlq_table { width: 100%; font-size: .875rem; }
.o_sfb_dlq_table td, .o_sfb_dlq_table th { padding: .3rem .4rem; vertical-align: top; }
.o_sfb_dlq_table tbody tr { cursor: pointer; border-top: 1px solid #dee2e6; }
.o_sfb_dlq_table tbody tr.o_sfb_cursor { background: #e7f0ff; box-shadow: inset 3px 0 0 #1f6feb; }
.o_sfb_dlq_table .o_sfb_msg { max-width: 20ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.o_sfb_detail { border: 1px solid #ced4da; border-radius: .5rem; padding: .75rem 1rem; background: #fff; position: sticky; top: 0; }
.o_sfb_detail h2 { font-size: 1.05rem; word-break: break-all; }
.o_sfb_traceback { font-size: .75rem; max-height: 20vh; overflow: auto; background: #f8f9fa; padding: .5rem; }
.o_sfb_counts { display: flex; gap: .5rem; flex-wrap: wrap; }
.o_sfb_edit textarea { width: 100%; min-height: 14rem; font-family: var(--font-monospace, monospace); font-size: .8rem; }
.o_sfb_keys { font-size: .75rem; color: #495057; }
.o_sfb_keys kbd { background: #343a40; }
`;

/** The discard-reason form, shown where the discard was asked (detail pane or bulk bar). */
const REASON_FORM = xml`
          <form class="mb-2 o_sfb_reason" t-on-submit.prevent="() => this.confirmDiscard()">
            <label class="form-label small" for="sfb-discard-reason" t-esc="reasonLabel"/>
            <input id="sfb-discard-reason" class="form-control form-control-sm o_sfb_reason_input" t-model="state.reason" required="required" t-ref="reason"/>
            <div class="d-flex gap-2 mt-1">
              <button type="submit" class="btn btn-sm btn-danger o_sfb_reason_ok" t-esc="labels.confirmDiscard"/>
              <button type="button" class="btn btn-sm btn-secondary" t-on-click="() => this.cancelReason()" t-esc="labels.cancel"/>
            </div>
          </form>`;

/** Failed, dead and rejected events: review, fix and replay, paged on the server. */
export class DlqReview extends Component {
  static override template = xml`
    <div class="o_sfb_screen o_sfb_dlq" role="main">
      <div class="d-flex align-items-baseline gap-3 flex-wrap mb-2">
        <h1 class="h3 m-0" t-esc="labels.title"/>
        <div class="o_sfb_counts" role="status" aria-live="polite">
          <span t-foreach="allStates" t-as="s" t-key="s" t-att-class="'o_sfb_state o_sfb_state_' + s + ' o_sfb_count_' + s">
            <t t-esc="stateLabel(s)"/>: <t t-esc="count(state.summary ? state.summary.counts[s] : 0)"/>
          </span>
        </div>
        <p class="o_sfb_keys m-0 ms-auto" t-esc="labels.keys"/>
      </div>
      <form class="o_sfb_toolbar" role="search" t-on-submit.prevent="() => this.applyFilters()">
        <label><t t-esc="labels.search"/>
          <input type="search" class="form-control form-control-sm o_sfb_search" t-model="draft.search" t-att-placeholder="labels.searchHint"/>
        </label>
        <label><t t-esc="labels.connection"/>
          <select class="form-select form-select-sm o_sfb_f_connection" t-model.number="draft.connectionId" t-on-change="() => this.onFilterChange()">
            <option value="0" t-esc="labels.all"/>
            <option t-foreach="state.connections" t-as="c" t-key="c.id" t-att-value="c.id" t-esc="c.display_name"/>
          </select>
        </label>
        <label><t t-esc="labels.type"/>
          <select class="form-select form-select-sm o_sfb_f_type" t-model="draft.eventType" t-on-change="() => this.onFilterChange()">
            <option value="" t-esc="labels.all"/>
            <option t-foreach="state.summary ? state.summary.types : []" t-as="ty" t-key="ty" t-att-value="ty" t-esc="ty"/>
          </select>
        </label>
        <label><t t-esc="labels.errorClass"/>
          <select class="form-select form-select-sm o_sfb_f_error" t-model="draft.errorClass" t-on-change="() => this.onFilterChange()">
            <option value="" t-esc="labels.all"/>
            <option t-foreach="state.summary ? state.summary.error_classes : []" t-as="ec" t-key="ec.error_class"
                    t-att-value="ec.error_class" t-esc="ec.error_class + ' (' + ec.count + ')'"/>
          </select>
        </label>
        <label><t t-esc="labels.workcenter"/>
          <select class="form-select form-select-sm o_sfb_f_workcenter" t-model.number="draft.workcenterId" t-on-change="() => this.onFilterChange()">
            <option value="0" t-esc="labels.all"/>
            <option t-foreach="state.workcenters" t-as="w" t-key="w.id" t-att-value="w.id" t-esc="w.display_name"/>
          </select>
        </label>
        <label><t t-esc="labels.from"/>
          <input type="datetime-local" class="form-control form-control-sm o_sfb_f_from" t-model="draft.timeFrom" t-on-change="() => this.onFilterChange()"/>
        </label>
        <label><t t-esc="labels.to"/>
          <input type="datetime-local" class="form-control form-control-sm o_sfb_f_to" t-model="draft.timeTo" t-on-change="() => this.onFilterChange()"/>
        </label>
        <button type="submit" class="btn btn-primary btn-sm" t-esc="labels.apply"/>
      </form>
      <div t-if="state.error" class="alert alert-danger o_sfb_error" role="alert" t-esc="state.error"/>
      <div class="o_sfb_dlq_layout">
        <section aria-labelledby="sfb-dlq-list">
          <h2 id="sfb-dlq-list" class="visually-hidden" t-esc="labels.list"/>
          <div class="d-flex gap-2 align-items-center flex-wrap mb-1">
            <t t-if="state.isManager">
              <span class="small o_sfb_selected_count" t-esc="selectedText"/>
              <button class="btn btn-sm btn-outline-primary o_sfb_bulk_retry" t-att-disabled="!state.selected.length"
                      t-on-click="() => this.bulk('retry')" t-esc="labels.retrySelected"/>
              <button class="btn btn-sm btn-outline-danger o_sfb_bulk_discard" t-att-disabled="!state.selected.length"
                      t-on-click="() => this.askReason({ kind: 'selection' })" t-esc="labels.discardSelected"/>
            </t>
            <span class="ms-auto small o_sfb_pager_label" t-esc="pagerText"/>
            <button class="btn btn-sm btn-secondary o_sfb_prev" t-att-disabled="!state.offset" t-on-click="() => this.goTo(prevOffset)" t-att-aria-label="labels.previousPage">‹</button>
            <button class="btn btn-sm btn-secondary o_sfb_next" t-att-disabled="!hasNext" t-on-click="() => this.goTo(nxtOffset)" t-att-aria-label="labels.nextPage">›</button>
          </div>
          <t t-if="state.reasonFor and state.reasonFor.kind === 'selection'" t-call="${REASON_FORM}"/>
          <div t-if="state.loading and !state.rows.length" class="o_sfb_empty o_sfb_loading" role="status" t-esc="labels.loading"/>
          <p t-elif="!state.rows.length" class="o_sfb_empty o_sfb_no_rows" t-esc="labels.empty"/>
          <table t-else="" class="o_sfb_dlq_table" t-att-aria-busy="state.loading ? 'true' : 'false'">
            <thead><tr>
              <th t-if="state.isManager" scope="col"><input type="checkbox" class="form-check-input o_sfb_select_page" t-att-aria-label="labels.selectPage"
                  t-att-checked="allOnPageSelected" t-on-change="() => this.togglePage()"/></th>
              <th scope="col" t-esc="labels.time"/><th scope="col" t-esc="labels.state"/><th scope="col" t-esc="labels.type"/>
              <th scope="col" t-esc="labels.source"/><th scope="col" t-esc="labels.error"/><th scope="col" t-esc="labels.attempts"/>
            </tr></thead>
            <tbody>
              <tr t-foreach="state.rows" t-as="row" t-key="row.id" t-att-data-id="row.id" t-att-data-uid="row.event_uid"
                  t-att-class="'o_sfb_row' + (row_index === state.cursor ? ' o_sfb_cursor' : '')"
                  t-att-aria-selected="row_index === state.cursor ? 'true' : 'false'" t-on-click="() => this.open(row_index)">
                <td t-if="state.isManager" t-on-click.stop="() => {}"><input type="checkbox" class="form-check-input o_sfb_select"
                    t-att-aria-label="labels.select + ' ' + row.event_uid" t-att-checked="state.selected.includes(row.id)"
                    t-on-change="() => this.toggle(row.id)"/></td>
                <td class="text-nowrap" t-esc="time(row.time or row.ingest_time)" t-att-title="row.time ? '' : labels.receivedAt"/>
                <td><span t-att-class="'o_sfb_state o_sfb_state_' + row.state" t-esc="stateLabel(row.state)"/></td>
                <td t-esc="row.type"/>
                <td t-esc="row.source"/>
                <td class="o_sfb_msg" t-att-title="row.error_message or ''"><strong t-esc="row.error_class or ''"/> <t t-esc="row.error_message or ''"/></td>
                <td class="text-end" t-esc="row.attempts"/>
              </tr>
            </tbody>
          </table>
        </section>
        <aside class="o_sfb_detail" t-if="state.detail" aria-labelledby="sfb-detail-title" tabindex="-1" t-ref="detail">
          <t t-set="ev" t-value="state.detail"/>
          <div class="d-flex gap-2 align-items-baseline">
            <h2 id="sfb-detail-title" class="o_sfb_detail_title" t-esc="ev.type + ' · ' + ev.event_uid"/>
            <button class="btn btn-sm btn-link ms-auto" t-on-click="() => this.closeDetail()" t-att-aria-label="labels.close">✕</button>
          </div>
          <p class="small mb-1">
            <span t-att-class="'o_sfb_state o_sfb_state_' + ev.state + ' o_sfb_detail_state'" t-esc="stateLabel(ev.state)"/>
            <t t-esc="' ' + ev.source + ' · ' + (ev.time ? time(ev.time) : labels.receivedAt + ' ' + time(ev.ingest_time))"/>
            <t t-if="ev.subject" t-esc="' · ' + ev.subject"/>
          </p>
          <div t-if="ev.error_message" class="alert alert-warning py-2 mb-2 o_sfb_detail_error" role="note">
            <strong t-esc="ev.error_class or labels.error"/>: <t t-esc="ev.error_message"/>
          </div>
          <details t-if="ev.error_traceback" class="mb-2"><summary t-esc="labels.traceback"/>
            <pre class="o_sfb_traceback" t-esc="ev.error_traceback"/>
          </details>
          <t t-if="state.isManager">
            <div class="d-flex gap-2 flex-wrap mb-2 o_sfb_actions">
              <button class="btn btn-sm btn-primary o_sfb_retry" t-on-click="() => this.retry()" t-att-disabled="state.busy"><t t-esc="labels.retry"/> <kbd>r</kbd></button>
              <button class="btn btn-sm btn-secondary o_sfb_edit_btn" t-on-click="() => this.startEdit()" t-att-disabled="state.busy"><t t-esc="labels.edit"/> <kbd>e</kbd></button>
              <button class="btn btn-sm btn-outline-danger o_sfb_discard" t-on-click="() => this.askReason({ kind: 'one' })" t-att-disabled="state.busy"><t t-esc="labels.discard"/> <kbd>d</kbd></button>
              <div t-if="ev.error_class" class="btn-group">
                <button class="btn btn-sm btn-outline-primary o_sfb_retry_same" t-on-click="() => this.bulkSameError('retry')" t-esc="labels.retrySame"/>
                <button class="btn btn-sm btn-outline-danger o_sfb_discard_same" t-on-click="() => this.askReason({ kind: 'sameError' })" t-esc="labels.discardSame"/>
              </div>
            </div>
          </t>
          <t t-if="state.reasonFor and state.reasonFor.kind !== 'selection'" t-call="${REASON_FORM}"/>
          <form t-if="state.editing" class="o_sfb_edit mb-2" t-on-submit.prevent="() => this.saveEdit()">
            <label class="form-label small" for="sfb-edit-payload" t-esc="labels.editLabel"/>
            <textarea id="sfb-edit-payload" class="form-control o_sfb_edit_text" t-model="state.editText"
                      t-att-aria-invalid="state.editError ? 'true' : 'false'" aria-describedby="sfb-edit-error" t-on-input="() => this.validateEdit()"/>
            <p id="sfb-edit-error" class="small text-danger mb-1 o_sfb_edit_error" role="alert" t-esc="state.editError"/>
            <div class="d-flex gap-2">
              <button type="submit" class="btn btn-sm btn-primary o_sfb_edit_save" t-att-disabled="!!state.editError or state.busy" t-esc="labels.saveRetry"/>
              <button type="button" class="btn btn-sm btn-secondary" t-on-click="() => this.cancelEdit()" t-esc="labels.cancel"/>
            </div>
          </form>
          <h3 class="h6 mt-2" t-esc="labels.payload"/>
          <JsonView text="payloadText" label="labels.payload"/>
          <details t-if="ev.raw_payload and ev.raw_payload !== payloadText" class="mt-2 o_sfb_raw">
            <summary t-esc="labels.raw"/>
            <JsonView text="ev.raw_payload" label="labels.raw"/>
          </details>
          <h3 class="h6 mt-3" t-esc="labels.history"/>
          <ol class="small ps-3 o_sfb_history">
            <li t-foreach="ev.history_ids" t-as="h" t-key="h.id">
              <t t-esc="time(h.date)"/> — <strong t-esc="historyAction(h.action)"/>
              <t t-if="h.user_id" t-esc="' · ' + h.user_id.display_name"/>
              <t t-if="h.note" t-esc="' · ' + h.note"/>
            </li>
          </ol>
        </aside>
        <aside t-elif="state.rows.length" class="o_sfb_detail text-muted small" t-esc="labels.pick"/>
      </div>
    </div>`;
  static components = { JsonView };
  static override props = ["*"];

  declare state: {
    loading: boolean;
    busy: boolean;
    error: string;
    isManager: boolean;
    rows: DlqRow[];
    total: number;
    offset: number;
    cursor: number;
    selected: number[];
    detail: DlqDetail | null;
    summary: DlqSummary | null;
    connections: Option[];
    workcenters: Option[];
    filters: DlqFilters;
    editing: boolean;
    editText: string;
    editError: string;
    reasonFor: { kind: "one" | "selection" | "sameError" } | null;
    reason: string;
  };
  declare draft: {
    search: string;
    connectionId: number;
    eventType: string;
    errorClass: string;
    workcenterId: number;
    timeFrom: string;
    timeTo: string;
  };
  declare orm: OdooOrmService;
  declare notification: OdooNotificationService;
  declare live: LiveRefresh;
  declare labels: Record<string, string>;
  allStates = DLQ_STATES;
  /** Bumped by every open/close, so only the newest detail request lands. */
  detailRequest = 0;

  override setup(): void {
    useStyles("base", BASE_CSS);
    useStyles("dlq", CSS);
    this.orm = useService("orm");
    this.notification = useService("notification");
    const bus = useService("bus_service");
    this.labels = dlqLabels();
    const props = this.props as { action?: { context?: Record<string, unknown> } };
    const ctx = props.action?.context ?? {};
    const filters = emptyFilters();
    filters.connectionId = Number(ctx.sfb_connection_id) || null;
    if (typeof ctx.sfb_error_class === "string") filters.errorClass = ctx.sfb_error_class;
    this.state = useState({
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
      editText: "",
      editError: "",
      reasonFor: null,
      reason: "",
    });
    this.draft = useState({
      search: "",
      connectionId: filters.connectionId ?? 0,
      eventType: "",
      errorClass: filters.errorClass,
      workcenterId: 0,
      timeFrom: "",
      timeTo: "",
    });
    this.live = new LiveRefresh(() => this.reload());
    const onPing = () => this.live.ping();
    useExternalListener(window, "keydown", (ev) => this.onKeydown(ev as KeyboardEvent));
    // Asking for a reason puts the cursor where the reason is typed.
    const reasonInput = useRef("reason");
    useEffect(
      (el) => el?.focus(),
      () => [reasonInput.el],
    );
    onWillStart(async () => {
      // The rows do not wait for the filter options: all in one round trip.
      const [isManager, connections, workcenters] = await Promise.all([
        user.hasGroup(MANAGER_GROUP),
        this.orm.searchRead<Option>("shopfloor.connection", [], ["display_name"], { order: "name" }).catch(() => []),
        this.orm.searchRead<Option>("mrp.workcenter", [], ["display_name"], { order: "name" }).catch(() => []),
        this.reload(),
      ]);
      this.state.isManager = isManager;
      this.state.connections = connections;
      this.state.workcenters = workcenters;
      bus.subscribe(EVENTS_CHANGED, onPing);
      bus.start();
    });
    onWillUnmount(() => {
      bus.unsubscribe(EVENTS_CHANGED, onPing);
      this.live.stop();
    });
  }

  get domain(): Domain {
    return dlqDomain(this.state.filters);
  }

  /** Rows of the current page and the counts, as one consistent reload. */
  async reload(): Promise<void> {
    this.state.loading = true;
    try {
      const filters = this.state.filters;
      const [page, summary] = await Promise.all([
        this.orm.webSearchRead<DlqRow>(EVENT, this.domain, {
          specification: ROW_SPEC,
          limit: PAGE_SIZE,
          offset: this.state.offset,
          order: "time desc, id desc",
        }),
        this.orm.call<DlqSummary>("shopfloor.dashboard", "dlq_summary", [
          dlqDomain({ ...filters, states: [...DLQ_STATES], errorClass: "" }),
        ]),
      ]);
      if (page.records.length === 0 && this.state.offset > 0 && page.length > 0) {
        this.state.offset = Math.max(0, Math.floor((page.length - 1) / PAGE_SIZE) * PAGE_SIZE);
        return this.reload();
      }
      const openId = this.state.detail?.id;
      this.state.rows = page.records;
      this.state.total = page.length;
      this.state.summary = summary;
      const visible = new Set(page.records.map((r) => r.id));
      this.state.selected = this.state.selected.filter((id) => visible.has(id));
      const at = openId ? page.records.findIndex((r) => r.id === openId) : -1;
      this.state.cursor = at >= 0 ? at : cursorAfterRemoval(this.state.cursor, page.records.length);
      this.state.error = "";
    } catch (err) {
      this.state.error = _t("The dead letters could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
  }

  /** t-model updates the draft in its own change listener: apply after all of them ran. */
  onFilterChange(): Promise<void> {
    return Promise.resolve().then(() => this.applyFilters());
  }

  applyFilters(): Promise<void> {
    const d = this.draft;
    this.state.filters = {
      ...this.state.filters,
      search: d.search,
      connectionId: d.connectionId || null,
      eventType: d.eventType,
      errorClass: d.errorClass,
      workcenterId: d.workcenterId || null,
      timeFrom: localToServer(d.timeFrom),
      timeTo: localToServer(d.timeTo),
    };
    this.state.offset = 0;
    this.state.cursor = -1;
    this.state.selected = [];
    this.state.detail = null;
    return this.reload();
  }

  get pagerText(): string {
    return pageLabel({ offset: this.state.offset, limit: PAGE_SIZE, total: this.state.total });
  }
  get hasNext(): boolean {
    return this.state.offset + PAGE_SIZE < this.state.total;
  }
  get nxtOffset(): number {
    return nextOffset({ offset: this.state.offset, limit: PAGE_SIZE, total: this.state.total });
  }
  get prevOffset(): number {
    return previousOffset({ offset: this.state.offset, limit: PAGE_SIZE, total: this.state.total });
  }
  get selectedText(): string {
    return _t("%s selected", this.state.selected.length);
  }
  get allOnPageSelected(): boolean {
    return this.state.rows.length > 0 && this.state.rows.every((r) => this.state.selected.includes(r.id));
  }
  get payloadText(): string {
    const ev = this.state.detail;
    return (ev && (ev.data_json || ev.raw_payload)) || "";
  }
  get reasonLabel(): string {
    const kind = this.state.reasonFor?.kind;
    if (kind === "selection") return _t("Why discard the %s selected events?", this.state.selected.length);
    if (kind === "sameError")
      return _t("Why discard every event with the error %s?", this.state.detail?.error_class || "");
    return _t("Why discard this event?");
  }

  goTo(offset: number): Promise<void> {
    this.state.offset = offset;
    this.state.cursor = -1;
    this.state.detail = null;
    return this.reload();
  }

  async open(index: number): Promise<void> {
    const row = this.state.rows[index];
    if (!row) return;
    this.state.cursor = index;
    this.state.editing = false;
    this.state.reasonFor = null;
    const request = ++this.detailRequest;
    try {
      const [detail] = await this.orm.webRead<DlqDetail>(EVENT, [row.id], { specification: DETAIL_SPEC });
      // A later keystroke (another row, Esc) may have moved on while this one loaded.
      if (detail && request === this.detailRequest) this.state.detail = detail;
    } catch (err) {
      this.state.error = _t("The event could not be opened: %s", errorText(err));
    }
  }

  closeDetail(): void {
    this.detailRequest++;
    this.state.detail = null;
    this.state.editing = false;
    this.state.reasonFor = null;
  }

  toggle(id: number): void {
    const sel = this.state.selected;
    const at = sel.indexOf(id);
    if (at >= 0) sel.splice(at, 1);
    else sel.push(id);
  }
  togglePage(): void {
    this.state.selected = this.allOnPageSelected ? [] : this.state.rows.map((r) => r.id);
  }

  onKeydown(ev: KeyboardEvent): void {
    const cmd = commandFor({
      key: ev.key,
      ctrlKey: ev.ctrlKey,
      metaKey: ev.metaKey,
      altKey: ev.altKey,
      target: ev.target as HTMLElement | null,
    });
    if (!cmd) return;
    if (MANAGER_COMMANDS.has(cmd) && !this.state.isManager) return;
    ev.preventDefault();
    this.run(cmd);
  }

  run(cmd: DlqCommand): void {
    const rows = this.state.rows;
    switch (cmd) {
      case "next":
        if (rows.length) this.open(Math.min(this.state.cursor + 1, rows.length - 1));
        break;
      case "previous":
        if (rows.length) this.open(Math.max(this.state.cursor - 1, 0));
        break;
      case "retry":
        if (this.state.detail) this.retry();
        break;
      case "discard":
        if (this.state.detail) this.askReason({ kind: "one" });
        break;
      case "edit":
        if (this.state.detail) this.startEdit();
        break;
      case "toggleSelect": {
        const row = rows[this.state.cursor];
        if (row && this.state.isManager) this.toggle(row.id);
        break;
      }
      case "close":
        if (this.state.editing) this.cancelEdit();
        else if (this.state.reasonFor) this.cancelReason();
        else this.closeDetail();
        break;
    }
  }

  /** Runs a server action, tells the person what happened, reloads. */
  private async act(work: () => Promise<unknown>, done: string): Promise<boolean> {
    this.state.busy = true;
    try {
      await work();
      this.notification.add(done, { type: "success" });
      return true;
    } catch (err) {
      this.notification.add(errorText(err), { type: "danger", title: _t("Not done") });
      return false;
    } finally {
      this.state.busy = false;
      await this.reload();
      await this.refreshDetail();
    }
  }

  private async refreshDetail(): Promise<void> {
    const open = this.state.detail;
    if (!open) return;
    const [detail] = await this.orm
      .webRead<DlqDetail>(EVENT, [open.id], { specification: DETAIL_SPEC })
      .catch(() => []);
    this.state.detail = detail ?? null;
  }

  retry(): Promise<boolean> | undefined {
    const ev = this.state.detail;
    if (!ev) return;
    return this.act(
      () => this.orm.call(EVENT, "action_retry", [[ev.id]]),
      _t("Event %s sent to apply again.", ev.event_uid),
    );
  }

  startEdit(): void {
    const ev = this.state.detail;
    if (!ev) return;
    this.state.reasonFor = null;
    this.state.editing = true;
    const text = ev.data_json || ev.raw_payload || "{}";
    try {
      this.state.editText = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      this.state.editText = text;
    }
    this.validateEdit();
  }
  validateEdit(): void {
    const check = checkEditedPayload(this.state.editText);
    this.state.editError = check.ok ? "" : _t(check.error ?? "Invalid");
  }
  cancelEdit(): void {
    this.state.editing = false;
  }
  async saveEdit(): Promise<void> {
    const ev = this.state.detail;
    this.validateEdit();
    if (!ev || this.state.editError) return;
    const compact = JSON.stringify(JSON.parse(this.state.editText));
    const ok = await this.act(
      () => this.orm.call(EVENT, "action_edit_and_retry", [[ev.id], compact]),
      _t("Payload of %s edited and sent to apply again (the original is kept).", ev.event_uid),
    );
    if (ok) this.state.editing = false;
  }

  askReason(target: { kind: "one" | "selection" | "sameError" }): void {
    this.state.editing = false;
    this.state.reason = "";
    this.state.reasonFor = target;
  }
  cancelReason(): void {
    this.state.reasonFor = null;
  }
  async confirmDiscard(): Promise<void> {
    const target = this.state.reasonFor;
    const reason = this.state.reason.trim();
    if (!target || !reason) return;
    this.state.reasonFor = null;
    if (target.kind === "one") {
      const ev = this.state.detail;
      if (!ev) return;
      await this.act(
        () => this.orm.call(EVENT, "action_discard", [[ev.id], reason]),
        _t("Event %s discarded.", ev.event_uid),
      );
    } else if (target.kind === "selection") {
      await this.bulk("discard", reason);
    } else {
      await this.bulkSameError("discard", reason);
    }
  }

  bulk(action: "retry" | "discard", reason = ""): Promise<boolean> {
    const ids = [...this.state.selected];
    return this.act(
      async () => {
        const n = await this.orm.call<number>(EVENT, "dlq_bulk", [[["id", "in", ids]], action, reason]);
        this.state.selected = [];
        return n;
      },
      action === "retry" ? _t("%s events sent to apply again.", ids.length) : _t("%s events discarded.", ids.length),
    );
  }

  bulkSameError(action: "retry" | "discard", reason = ""): Promise<boolean> | undefined {
    const errorClass = this.state.detail?.error_class;
    if (!errorClass) return;
    const domain = sameErrorDomain(this.state.filters, errorClass);
    return this.act(
      () => this.orm.call(EVENT, "dlq_bulk", [domain, action, reason]),
      action === "retry"
        ? _t("Every event with the error %s sent to apply again.", errorClass)
        : _t("Every event with the error %s discarded.", errorClass),
    );
  }

  time(v: string | false): string {
    return formatTime(v);
  }
  count(v: number | undefined): string {
    return formatCount(v ?? 0);
  }
  stateLabel(s: string): string {
    return STATE_LABELS()[s] ?? s;
  }
  historyAction(a: string): string {
    return HISTORY_LABELS()[a] ?? a;
  }
}

/** datetime-local gives local wall time; the domain wants UTC. */
function localToServer(value: string): string {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : toServerDatetime(d);
}

const STATE_LABELS = (): Record<string, string> => ({
  pending: _t("Pending"),
  applied: _t("Applied"),
  failed: _t("Failed"),
  dead: _t("Dead"),
  rejected: _t("Rejected"),
  discarded: _t("Discarded"),
});

const HISTORY_LABELS = (): Record<string, string> => ({
  ingest: _t("Received"),
  apply: _t("Applied"),
  fail: _t("Apply failed"),
  pending: _t("Waiting"),
  dead: _t("Dead-lettered"),
  reject: _t("Rejected"),
  retry: _t("Retry requested"),
  edit: _t("Payload edited"),
  discard: _t("Discarded"),
});

function dlqLabels(): Record<string, string> {
  return {
    title: _t("Dead letters"),
    keys: _t("Keys: j/k next/previous · r retry · e edit · d discard · x select · Esc close"),
    search: _t("Search"),
    searchHint: _t("Event id, source, subject, error"),
    connection: _t("Connection"),
    type: _t("Type"),
    errorClass: _t("Error class"),
    workcenter: _t("Work center"),
    from: _t("From"),
    to: _t("To"),
    all: _t("All"),
    apply: _t("Filter"),
    list: _t("Events"),
    loading: _t("Loading…"),
    empty: _t("No dead letters match these filters."),
    selectPage: _t("Select every event on this page"),
    select: _t("Select event"),
    retrySelected: _t("Retry selected"),
    discardSelected: _t("Discard selected"),
    previousPage: _t("Previous page"),
    nextPage: _t("Next page"),
    time: _t("Time"),
    state: _t("State"),
    source: _t("Source"),
    error: _t("Error"),
    attempts: _t("Attempts"),
    close: _t("Close the event"),
    traceback: _t("Traceback"),
    retry: _t("Retry"),
    edit: _t("Edit payload"),
    discard: _t("Discard"),
    retrySame: _t("Retry all with this error"),
    discardSame: _t("Discard all with this error"),
    confirmDiscard: _t("Discard"),
    cancel: _t("Cancel"),
    editLabel: _t("Event data (JSON). The original payload is kept."),
    saveRetry: _t("Save and retry"),
    payload: _t("Payload"),
    raw: _t("Exactly as received"),
    receivedAt: _t("received"),
    history: _t("Attempts and history"),
    pick: _t("Pick an event (click, or j/k) to see its error, payload and history."),
  };
}

registry.category("actions").add("shopfloor_bridge.dlq_review", DlqReview);
