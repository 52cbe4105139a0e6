import { Component, onWillStart, useState } from "@odoo/owl";
import { errorText, formatCount } from "../../shared/format.ts";
import type { LiveRefresh } from "../../shared/live.ts";
import { eventStateLabel } from "../../shared/states.ts";
import { useScreen } from "../../shared/use_screen.ts";
import { _t, MANAGER_GROUP, registry, standardActionServiceProps, useHotkey, user } from "../../shared/web.ts";
import { DlqBulkBar } from "../dlq_bulk_bar/dlq_bulk_bar.ts";
import { DlqDetailPane } from "../dlq_detail/dlq_detail.ts";
import { DlqEditor } from "../dlq_editor/dlq_editor.ts";
import { DlqFilterBar } from "../dlq_filters/dlq_filters.ts";
import { DlqList } from "../dlq_list/dlq_list.ts";
import { DlqReasonForm } from "../dlq_reason_form/dlq_reason_form.ts";
import {
  type DlqDraft,
  type DlqScreenState,
  DlqServer,
  type DlqSummary,
  initialState,
  PAGE_SIZE,
  type ReasonTarget,
} from "./dlq_data.ts";
import {
  applyDraft,
  cursorAfterRemoval,
  DLQ_STATES,
  draftFromFilters,
  filtersFromContext,
  sameErrorDomain,
} from "./dlq_query.ts";
import { commandFor, DLQ_HOTKEYS, type DlqCommand, MANAGER_COMMANDS } from "./keymap.ts";

export type { DlqDetail, DlqRow } from "./dlq_data.ts";
export { PAGE_SIZE } from "./dlq_data.ts";

/**
 * Failed, dead and rejected events: review, fix and replay, paged on the
 * server. This screen holds the state and talks to the server; the filter
 * bar, bulk bar, list, detail pane, editor and reason form only show it.
 */
export class DlqReview extends Component {
  static override template = "shopfloor_bridge.DlqReview";
  static override props = { ...standardActionServiceProps };
  static components = { DlqBulkBar, DlqDetailPane, DlqEditor, DlqFilterBar, DlqList, DlqReasonForm };

  declare state: DlqScreenState;
  declare draft: DlqDraft;
  declare server: DlqServer;
  declare notification: OdooNotificationService;
  declare action: OdooActionService;
  declare live: LiveRefresh;
  allStates = DLQ_STATES;
  pageSize = PAGE_SIZE;
  /** Bumped by every open/close, so only the newest detail request lands. */
  detailRequest = 0;

  override setup(): void {
    const screen = useScreen(() => this.reload());
    this.server = new DlqServer(screen.orm);
    this.notification = screen.notification;
    this.action = screen.action;
    this.live = screen.live;
    const props = this.props as { action?: { context?: Record<string, unknown> } };
    const filters = filtersFromContext(props.action?.context ?? {});
    this.state = useState(initialState(filters));
    this.draft = useState(draftFromFilters(filters));
    for (const { hotkey, command, allowRepeat } of DLQ_HOTKEYS) {
      useHotkey(hotkey, () => this.run(command), {
        allowRepeat,
        // Typing in a field (Escape aside) and actions a reader may not take are not shortcuts.
        isAvailable: () =>
          commandFor(hotkey, document.activeElement as HTMLElement | null) === command &&
          (this.state.isManager || !MANAGER_COMMANDS.has(command)),
      });
    }
    onWillStart(async () => {
      // The rows do not wait for the filter options: all in one round trip.
      const [isManager, connections, workcenters] = await Promise.all([
        user.hasGroup(MANAGER_GROUP),
        this.server.options("shopfloor.connection"),
        this.server.options("mrp.workcenter"),
        this.reload(),
      ]);
      this.state.isManager = isManager;
      this.state.connections = connections;
      this.state.workcenters = workcenters;
    });
  }

  /** Rows of the current page and the counts, as one consistent reload. */
  async reload(): Promise<void> {
    this.state.loading = true;
    try {
      const [page, summary] = await this.server.page(this.state.filters, this.state.offset);
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

  applyFilters(): Promise<void> {
    this.state.filters = applyDraft(this.state.filters, this.draft);
    this.state.selected = [];
    return this.goTo(0);
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
      const detail = await this.server.detail(row.id);
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
    const all = this.state.rows.length > 0 && this.state.rows.every((r) => this.state.selected.includes(r.id));
    this.state.selected = all ? [] : this.state.rows.map((r) => r.id);
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
        if (this.state.editing) this.state.editing = false;
        else if (this.state.reasonFor) this.state.reasonFor = null;
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
    this.state.detail = (await this.server.detail(open.id).catch(() => undefined)) ?? null;
  }

  retry(): Promise<boolean> | undefined {
    const ev = this.state.detail;
    if (!ev) return;
    return this.act(() => this.server.retry(ev.id), _t("Event %s sent to apply again.", ev.event_uid));
  }

  startEdit(): void {
    if (!this.state.detail) return;
    this.state.reasonFor = null;
    this.state.editing = true;
  }
  get editText(): string {
    const ev = this.state.detail;
    return (ev && (ev.data_json || ev.raw_payload)) || "{}";
  }
  /** `compact` is the edited payload, already checked by the editor. */
  async saveEdit(compact: string): Promise<void> {
    const ev = this.state.detail;
    if (!ev) return;
    const ok = await this.act(
      () => this.server.editAndRetry(ev.id, compact),
      _t("Payload of %s edited and sent to apply again (the original is kept).", ev.event_uid),
    );
    if (ok) this.state.editing = false;
  }

  /** Opens the payload mapping form prefilled from the open rejected payload (not saved until the admin saves it). */
  async createMapping(): Promise<void> {
    const ev = this.state.detail;
    if (!ev) return;
    this.state.busy = true;
    try {
      const action = await this.server.createPayloadMap(ev.id);
      await this.action.doAction(action);
    } catch (err) {
      this.notification.add(errorText(err), { type: "danger", title: _t("No mapping created") });
    } finally {
      this.state.busy = false;
    }
  }

  askReason(target: ReasonTarget): void {
    this.state.editing = false;
    this.state.reasonFor = target;
  }
  async confirmDiscard(reason: string): Promise<void> {
    const target = this.state.reasonFor;
    if (!target || !reason) return;
    this.state.reasonFor = null;
    if (target.kind === "one") {
      const ev = this.state.detail;
      if (!ev) return;
      await this.act(() => this.server.discard(ev.id, reason), _t("Event %s discarded.", ev.event_uid));
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
        const n = await this.server.bulk([["id", "in", ids]], action, reason);
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
      () => this.server.bulk(domain, action, reason),
      action === "retry"
        ? _t("Every event with the error %s sent to apply again.", errorClass)
        : _t("Every event with the error %s discarded.", errorClass),
    );
  }

  countLabel(state: string): string {
    return _t("%(state)s: %(count)s", {
      state: eventStateLabel(state),
      count: formatCount(this.state.summary ? this.state.summary.counts[state as keyof DlqSummary["counts"]] : 0),
    });
  }
}

registry.category("actions").add("shopfloor_bridge.dlq_review", DlqReview);
