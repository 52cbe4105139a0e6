import { Component, onWillStart, onWillUnmount, useState, xml } from "@odoo/owl";
import { errorText } from "../dashboard/dashboard.ts";
import { formatTime, toServerDatetime } from "../shared/format.ts";
import { LiveRefresh } from "../shared/live.ts";
import { BASE_CSS, useStyles } from "../shared/styles.ts";
import { _t, EVENTS_CHANGED, registry, useService } from "../shared/web.ts";
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

const CSS = `
.o_sfb_timeline_row { display: grid; grid-template-columns: 12rem minmax(0, 1fr); gap: .5rem; align-items: center; margin-bottom: .5rem; }
@media (max-width: 768px) { .o_sfb_timeline_row { grid-template-columns: 1fr; } }
.o_sfb_track { position: relative; height: 2.25rem; background: #f1f3f5; border-radius: .25rem; }
.o_sfb_mark { position: absolute; top: .45rem; width: 1.35rem; height: 1.35rem; margin-left: -.675rem; border-radius: 50%;
  border: 2px solid #fff; padding: 0; }
.o_sfb_mark.o_sfb_state_applied { background: #1a7f37; }
.o_sfb_mark.o_sfb_state_pending { background: #9a6700; }
.o_sfb_mark.o_sfb_state_failed { background: #bc4c00; }
.o_sfb_mark.o_sfb_state_dead, .o_sfb_mark.o_sfb_state_rejected { background: #cf222e; }
.o_sfb_mark.o_sfb_state_discarded { background: #6e7781; }
.o_sfb_mark.o_sfb_active { box-shadow: 0 0 0 3px #1f6feb; }
.o_sfb_axis { position: relative; height: 1.2rem; font-size: .75rem; color: #495057; }
.o_sfb_axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.o_sfb_explorer_detail { border: 1px solid #ced4da; border-radius: .5rem; padding: .75rem 1rem; margin-top: 1rem; max-width: 900px; }
`;

/** What happened on each work center over a time range, linked to the records each event produced. */
export class EventExplorer extends Component {
  static override template = xml`
    <div class="o_sfb_screen o_sfb_explorer" role="main">
      <h1 class="h3" t-esc="labels.title"/>
      <form class="o_sfb_toolbar" t-on-submit.prevent="() => this.load()">
        <label><t t-esc="labels.from"/><input type="datetime-local" class="form-control form-control-sm o_sfb_x_from" t-model="state.from"/></label>
        <label><t t-esc="labels.to"/><input type="datetime-local" class="form-control form-control-sm o_sfb_x_to" t-model="state.to"/></label>
        <label><t t-esc="labels.workcenter"/>
          <select class="form-select form-select-sm o_sfb_x_workcenter" t-model.number="state.workcenterId">
            <option value="0" t-esc="labels.all"/>
            <option t-foreach="state.workcenters" t-as="w" t-key="w.id" t-att-value="w.id" t-esc="w.display_name"/>
          </select>
        </label>
        <label><t t-esc="labels.type"/><input type="text" class="form-control form-control-sm o_sfb_x_type" t-model="state.type" t-att-placeholder="labels.typeHint"/></label>
        <button type="submit" class="btn btn-primary btn-sm" t-esc="labels.show"/>
        <button type="button" class="btn btn-secondary btn-sm" t-on-click="() => this.shift()" t-esc="labels.lastShift"/>
      </form>
      <div t-if="state.error" class="alert alert-danger o_sfb_error" role="alert" t-esc="state.error"/>
      <div t-elif="state.loading and !state.rows.length" class="o_sfb_empty o_sfb_loading" role="status" t-esc="labels.loading"/>
      <p t-elif="!state.rows.length" class="o_sfb_empty o_sfb_no_rows" t-esc="labels.empty"/>
      <t t-else="">
        <p t-if="state.truncated" class="small text-warning-emphasis o_sfb_truncated" role="note" t-esc="truncatedText"/>
        <div class="o_sfb_timeline_row" aria-hidden="true">
          <span/>
          <div class="o_sfb_axis"><span t-foreach="ticks" t-as="tick" t-key="tick_index" t-att-style="'left:' + tick.left + '%'" t-esc="tick.label"/></div>
        </div>
        <section t-foreach="state.rows" t-as="row" t-key="row.key" class="o_sfb_timeline_row" t-att-data-workcenter="row.label"
                 t-att-aria-label="row.label">
          <h2 class="h6 m-0"><t t-esc="row.label"/> <small class="text-muted" t-esc="'(' + row.events.length + ')'"/></h2>
          <div class="o_sfb_track" role="list">
            <button t-foreach="row.events" t-as="ev" t-key="ev.id" role="listitem" type="button"
                    t-att-class="'o_sfb_mark o_sfb_state_' + ev.state + (state.selected and state.selected.id === ev.id ? ' o_sfb_active' : '')"
                    t-att-style="'left:' + ev.left + '%'" t-att-title="markLabel(ev)" t-att-aria-label="markLabel(ev)"
                    t-on-click="() => this.select(ev)"/>
          </div>
        </section>
        <section t-if="state.selected" class="o_sfb_explorer_detail" aria-live="polite">
          <t t-set="ev" t-value="state.selected"/>
          <h2 class="h5 o_sfb_x_title" t-esc="ev.type + ' · ' + time(ev.time)"/>
          <p class="small mb-1"><span t-att-class="'o_sfb_state o_sfb_state_' + ev.state" t-esc="ev.state"/> <t t-esc="ev.source"/> <t t-if="ev.subject" t-esc="' · ' + ev.subject"/></p>
          <h3 class="h6" t-esc="labels.produced"/>
          <p t-if="!refs.length" class="small text-muted" t-esc="labels.nothingProduced"/>
          <ul class="o_sfb_refs">
            <li t-foreach="refs" t-as="ref" t-key="ref.model + ref.id">
              <a href="#" class="o_sfb_ref" t-on-click.prevent="() => this.openRef(ref)" t-esc="refLabel(ref)"/>
            </li>
          </ul>
          <button class="btn btn-sm btn-link ps-0" t-on-click="() => this.openEvent(ev.id)" t-esc="labels.openEvent"/>
        </section>
      </t>
    </div>`;
  static override props = ["*"];

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
  };
  declare orm: OdooOrmService;
  declare action: OdooActionService;
  declare labels: Record<string, string>;
  declare live: LiveRefresh;

  override setup(): void {
    useStyles("base", BASE_CSS);
    useStyles("explorer", CSS);
    this.orm = useService("orm");
    this.action = useService("action");
    const bus = useService("bus_service");
    this.labels = {
      title: _t("Event explorer"),
      from: _t("From"),
      to: _t("To"),
      workcenter: _t("Work center"),
      all: _t("All"),
      type: _t("Type"),
      typeHint: _t("e.g. downtime.started"),
      show: _t("Show"),
      lastShift: _t("Last 8 hours"),
      loading: _t("Loading…"),
      empty: _t("No event in this range."),
      produced: _t("Records it produced"),
      nothingProduced: _t("None (not applied, or nothing to write)."),
      openEvent: _t("Open the event record"),
      noWorkcenter: _t("No work center"),
    };
    const now = new Date();
    this.state = useState({
      loading: true,
      error: "",
      from: toLocalInput(new Date(now.getTime() - 8 * 3_600_000)),
      to: toLocalInput(new Date(now.getTime() + 5 * 60_000)),
      workcenterId: 0,
      type: "",
      workcenters: [],
      rows: [],
      truncated: false,
      selected: null,
      names: {},
    });
    this.live = new LiveRefresh(() => this.load());
    const onPing = () => this.live.ping();
    onWillStart(async () => {
      this.state.workcenters = await this.orm
        .searchRead<{ id: number; display_name: string }>("mrp.workcenter", [], ["display_name"], { order: "name" })
        .catch(() => []);
      await this.load();
      bus.subscribe(EVENTS_CHANGED, onPing);
    });
    onWillUnmount(() => {
      bus.unsubscribe(EVENTS_CHANGED, onPing);
      this.live.stop();
    });
  }

  get range(): { from: Date; to: Date } {
    return { from: new Date(this.state.from), to: new Date(this.state.to) };
  }
  get ticks() {
    return axisTicks(this.range.from, this.range.to);
  }
  get refs(): RecordRef[] {
    return parseResultRefs(this.state.selected?.result_refs);
  }
  get truncatedText(): string {
    return _t("Showing the first %s events of this range: narrow it to see the rest.", EXPLORER_LIMIT);
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
      this.state.rows = buildTimeline(events.slice(0, EXPLORER_LIMIT), from, to, this.labels.noWorkcenter as string);
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
    return `${formatTime(ev.time)} ${ev.type || ""} (${ev.state})${ev.subject ? ` ${ev.subject}` : ""}`;
  }
  refLabel(ref: RecordRef): string {
    return this.state.names[`${ref.model},${ref.id}`] ?? `${ref.model} #${ref.id}`;
  }
  time(v: string | false): string {
    return formatTime(v);
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

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

registry.category("actions").add("shopfloor_bridge.event_explorer", EventExplorer);
