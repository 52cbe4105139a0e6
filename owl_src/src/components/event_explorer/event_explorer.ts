import { Component, onWillStart, useState } from "@odoo/owl";
import { displayTime, errorText, formatTime, toServerDatetime } from "../../shared/format.ts";
import type { LiveRefresh } from "../../shared/live.ts";
import { eventStateLabel, eventTypeLabel } from "../../shared/states.ts";
import { useScreen } from "../../shared/use_screen.ts";
import {
  _t,
  deserializeDateTime,
  formatDateTime,
  formatInteger,
  MANAGER_GROUP,
  registry,
  standardActionServiceProps,
  user,
} from "../../shared/web.ts";
import {
  axisTicks,
  buildTimeline,
  type ExplorerEvent,
  parseResultRefs,
  type RecordRef,
  type TimelineRow,
} from "./timeline.ts";

export const EXPLORER_LIMIT = 2000;
const FIELDS = ["time", "type", "state", "source", "subject", "workcenter_id", "result_refs"];

/** What happened on each work center over a time range, linked to the records each event produced. */
export class EventExplorer extends Component {
  static override template = "shopfloor_bridge.EventExplorer";
  static override props = { ...standardActionServiceProps };

  declare state: {
    loading: boolean;
    error: string;
    from: string;
    to: string;
    workcenterId: number;
    type: string;
    workcenters: { id: number; display_name: string }[];
    rows: TimelineRow[];
    truncated: boolean;
    selected: ExplorerEvent | null;
    names: Record<string, string>;
    isManager: boolean;
    /** Applied events picked for a reversal (ids), across rows and ranges until it runs. */
    toReverse: number[];
  };
  declare orm: OdooOrmService;
  declare action: OdooActionService;
  declare live: LiveRefresh;

  override setup(): void {
    const screen = useScreen(() => this.load());
    this.orm = screen.orm;
    this.action = screen.action;
    this.live = screen.live;
    const now = new Date();
    this.state = useState({
      loading: true,
      error: "",
      from: toLocalInput(new Date(now.getTime() - 8 * 3_600_000)),
      to: toLocalInput(new Date(now.getTime() + 5 * 60_000)),
      // The live view opens one work center's timeline through the action's context.
      workcenterId: workcenterFromContext(
        (this.props as { action?: { context?: Record<string, unknown> } }).action?.context,
      ),
      type: "",
      workcenters: [],
      rows: [],
      truncated: false,
      selected: null,
      names: {},
      isManager: false,
      toReverse: [],
    });
    onWillStart(async () => {
      this.state.isManager = await user.hasGroup(MANAGER_GROUP).catch(() => false);
      this.state.workcenters = await this.orm
        .searchRead<{ id: number; display_name: string }>("mrp.workcenter", [], ["display_name"], { order: "name" })
        .catch(() => []);
      await this.load();
    });
  }

  get range(): { from: Date; to: Date } {
    return { from: new Date(this.state.from), to: new Date(this.state.to) };
  }
  get ticks() {
    // Hours and minutes in the user's time zone, as Odoo formats them.
    return axisTicks(this.range.from, this.range.to, 9, (d) =>
      formatDateTime(deserializeDateTime(toServerDatetime(d)), { format: "HH:mm" }),
    );
  }
  get refs(): RecordRef[] {
    return parseResultRefs(this.state.selected?.result_refs);
  }
  get truncatedText(): string {
    return _t("Showing the first %s events of this range: narrow it to see the rest.", formatInteger(EXPLORER_LIMIT));
  }

  async load(): Promise<void> {
    const { from, to } = this.range;
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      this.state.error = _t("Pick a range whose start is before its end.");
      return;
    }
    const domain: unknown[] = [
      ["time", ">=", toServerDatetime(from)],
      ["time", "<=", toServerDatetime(to)],
    ];
    if (this.state.workcenterId) domain.push(["workcenter_id", "=", this.state.workcenterId]);
    if (this.state.type.trim()) domain.push(["type", "ilike", this.state.type.trim()]);
    this.state.loading = true;
    try {
      const events = await this.orm.searchRead<ExplorerEvent>("shopfloor.event", domain, FIELDS, {
        order: "time asc, id asc",
        limit: EXPLORER_LIMIT + 1,
      });
      this.state.truncated = events.length > EXPLORER_LIMIT;
      this.state.rows = buildTimeline(events.slice(0, EXPLORER_LIMIT), from, to, _t("No work center"));
      const selected = this.state.selected?.id;
      this.state.selected = selected ? (events.find((e) => e.id === selected) ?? null) : null;
      this.state.error = "";
      await this.loadNames(this.state.selected);
    } catch (err) {
      this.state.error = _t("The events could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
  }

  shift(): Promise<void> {
    const now = new Date();
    this.state.from = toLocalInput(new Date(now.getTime() - 8 * 3_600_000));
    this.state.to = toLocalInput(new Date(now.getTime() + 5 * 60_000));
    return this.load();
  }

  async select(ev: ExplorerEvent): Promise<void> {
    this.state.selected = ev;
    await this.loadNames(ev);
  }

  /** Display names of the produced records, one read per model. */
  async loadNames(ev: ExplorerEvent | null): Promise<void> {
    const byModel = new Map<string, number[]>();
    for (const ref of parseResultRefs(ev?.result_refs))
      byModel.set(ref.model, [...(byModel.get(ref.model) ?? []), ref.id]);
    for (const [model, ids] of byModel) {
      const rows = await this.orm
        .call<{ id: number; display_name: string }[]>(model, "read", [ids, ["display_name"]])
        .catch(() => []);
      for (const row of rows) this.state.names[`${model},${row.id}`] = row.display_name;
    }
  }

  markLabel(ev: ExplorerEvent): string {
    return _t("%(time)s %(type)s (%(state)s) %(subject)s", {
      time: formatTime(ev.time),
      type: ev.type || "",
      state: this.stateLabel(ev.state),
      subject: ev.subject || "",
    }).trim();
  }
  /** "downtime.started · 11/22/2026 08:15:03"; "—" for a missing type or time. */
  detailTitle(ev: ExplorerEvent): string {
    return _t("%(type)s · %(time)s", { type: eventTypeLabel(ev.type), time: displayTime(ev.time) });
  }
  refLabel(ref: RecordRef): string {
    return this.state.names[`${ref.model},${ref.id}`] ?? _t("%(model)s #%(id)s", { model: ref.model, id: ref.id });
  }
  stateLabel(state: string): string {
    return eventStateLabel(state);
  }
  rowLabel(row: TimelineRow): string {
    return _t("%(workcenter)s (%(count)s)", { workcenter: row.label, count: formatInteger(row.events.length) });
  }
  time(v: string | false): string {
    return formatTime(v);
  }

  /** Picks or unpicks the selected applied event for a reversal. */
  toggleReverse(ev: ExplorerEvent): void {
    const picked = this.state.toReverse;
    this.state.toReverse = picked.includes(ev.id) ? picked.filter((id) => id !== ev.id) : [...picked, ev.id];
  }
  isPicked(ev: ExplorerEvent): boolean {
    return this.state.toReverse.includes(ev.id);
  }
  get pickedText(): string {
    return _t("%s events to reverse", formatInteger(this.state.toReverse.length));
  }

  /** The reverse wizard (why, and whether to re-apply) for the picked events; the range reloads when it closes. */
  async reverse(reapply: boolean): Promise<void> {
    const ids = [...this.state.toReverse];
    if (!ids.length) return;
    const action = await this.orm.call<Record<string, unknown>>(
      "shopfloor.event",
      "action_open_reverse_wizard",
      [ids],
      {
        context: { default_reapply: reapply },
      },
    );
    await this.action.doAction(action, {
      onClose: async () => {
        this.state.toReverse = [];
        await this.load();
      },
    });
  }

  openRef(ref: RecordRef): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      res_model: ref.model,
      res_id: ref.id,
      views: [[false, "form"]],
    });
  }
  openEvent(id: number): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      res_model: "shopfloor.event",
      res_id: id,
      views: [[false, "form"]],
    });
  }
}

function workcenterFromContext(context: Record<string, unknown> | undefined): number {
  const id = Number(context?.sfb_workcenter_id);
  return Number.isInteger(id) && id > 0 ? id : 0;
}

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

registry.category("actions").add("shopfloor_bridge.event_explorer", EventExplorer);
