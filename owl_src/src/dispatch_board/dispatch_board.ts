import { Component, onWillStart, onWillUnmount, useState, xml } from "@odoo/owl";
import { errorText } from "../dashboard/dashboard.ts";
import { formatCount, formatTime } from "../shared/format.ts";
import { LiveRefresh } from "../shared/live.ts";
import { BASE_CSS, useStyles } from "../shared/styles.ts";
import { _t, EVENTS_CHANGED, registry, useService } from "../shared/web.ts";
import { compareCards, planDrop, type QueueCard } from "./queue_order.ts";

type Many2one = [number, string] | false;

export interface BoardWorkorder {
  id: number;
  name: string;
  workcenter_id: Many2one;
  production_id: Many2one;
  product_id: Many2one;
  qty_remaining: number;
  product_uom_id: Many2one;
  state: string;
  date_start: string | false;
  priority: string;
}

export interface FloorAck {
  state: string;
  version: number;
  error: string;
  date: string;
}

export interface BoardData {
  workcenters: { id: number; display_name: string }[];
  workorders: BoardWorkorder[];
  /** Newest floor message per work center id; false when push-back is not installed. */
  acks: Record<string, FloorAck> | false;
}

interface Column {
  id: number;
  name: string;
  cards: (BoardWorkorder & QueueCard)[];
  ack: FloorAck | null;
}

/** While a floor message is on its way, the board re-reads its state this often. */
export const ACK_POLL_MS = 2000;

const CSS = `
.o_sfb_board { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(240px, 1fr); gap: .75rem; overflow-x: auto; padding-bottom: .5rem; }
.o_sfb_column { background: #f1f3f5; border-radius: .5rem; padding: .5rem; min-height: 12rem; }
.o_sfb_column.o_sfb_drop_target { outline: 3px dashed #1f6feb; }
.o_sfb_column h2 { font-size: 1rem; margin: 0 0 .35rem; }
.o_sfb_card { background: #fff; border: 1px solid #ced4da; border-radius: .375rem; padding: .4rem .5rem; margin-bottom: .4rem; cursor: grab; }
.o_sfb_card.o_sfb_dragging { opacity: .5; }
.o_sfb_card.o_sfb_running { border-left: 4px solid #1a7f37; cursor: default; }
.o_sfb_card .o_sfb_star { color: #9a6700; font-weight: 700; }
.o_sfb_card .o_sfb_moves button { padding: 0 .4rem; line-height: 1.2; }
.o_sfb_drop_slot { height: .5rem; border-radius: .25rem; }
.o_sfb_drop_slot.o_sfb_over { height: 1.5rem; background: #cfe2ff; }
`;

/** The planner's board: the floor queue of each work center; drag to re-plan, see the floor acknowledge it. */
export class DispatchBoard extends Component {
  static override template = xml`
    <div class="o_sfb_screen o_sfb_dispatch" role="main">
      <div class="d-flex align-items-baseline gap-3 flex-wrap mb-2">
        <h1 class="h3 m-0" t-esc="labels.title"/>
        <p class="small text-muted m-0" t-esc="labels.help"/>
        <label class="small ms-auto d-flex gap-1 align-items-center">
          <input type="checkbox" class="form-check-input m-0 o_sfb_show_empty" t-model="state.showEmpty"/>
          <t t-esc="labels.showEmpty"/>
        </label>
      </div>
      <div t-if="state.data and state.data.acks === false" class="alert alert-info py-2 o_sfb_no_dispatch" role="note" t-esc="labels.noDispatch"/>
      <div t-if="state.error" class="alert alert-danger o_sfb_error" role="alert" t-esc="state.error"/>
      <div t-if="state.loading and !state.data" class="o_sfb_empty o_sfb_loading" role="status" t-esc="labels.loading"/>
      <div t-elif="state.data" class="o_sfb_board">
        <section t-foreach="columns" t-as="col" t-key="col.id" t-att-data-workcenter="col.name"
                 t-att-class="'o_sfb_column' + (state.overColumn === col.id ? ' o_sfb_drop_target' : '')"
                 t-att-aria-labelledby="'sfb-col-' + col.id"
                 t-on-dragover="(ev) => this.onDragOver(ev, col, col.cards.length)" t-on-drop="(ev) => this.onDrop(ev, col)">
          <h2 t-att-id="'sfb-col-' + col.id"><t t-esc="col.name"/> <small class="text-muted" t-esc="'(' + col.cards.length + ')'"/></h2>
          <p class="small mb-2 o_sfb_col_ack">
            <t t-esc="labels.floor"/>:
            <span t-att-class="'o_sfb_state o_sfb_state_' + (col.ack ? col.ack.state : 'none')" t-esc="ackText(col.ack)"/>
          </p>
          <ol class="list-unstyled m-0" t-att-aria-label="labels.queueOf + ' ' + col.name">
            <t t-foreach="col.cards" t-as="card" t-key="card.id">
              <li t-att-class="'o_sfb_drop_slot' + (state.over and state.over.column === col.id and state.over.index === card_index ? ' o_sfb_over' : '')"
                  aria-hidden="true" t-on-dragover="(ev) => this.onDragOver(ev, col, card_index)"/>
              <li t-att-class="'o_sfb_card' + (card.running ? ' o_sfb_running' : '') + (state.dragging === card.id ? ' o_sfb_dragging' : '')"
                  t-att-draggable="card.running ? 'false' : 'true'" t-att-data-id="card.id" t-att-data-mo="card.production_id and card.production_id[1]"
                  t-on-dragstart="(ev) => this.onDragStart(ev, card)" t-on-dragend="() => this.onDragEnd()"
                  t-on-dragover="(ev) => this.onDragOver(ev, col, card_index)">
                <div class="d-flex justify-content-between gap-1">
                  <strong class="o_sfb_card_mo"><span t-if="card.priority === '1'" class="o_sfb_star" t-att-aria-label="labels.urgent" role="img">★ </span><t t-esc="card.production_id and card.production_id[1]"/></strong>
                  <span class="small text-muted" t-esc="card.name"/>
                </div>
                <div class="small"><t t-esc="card.product_id and card.product_id[1]"/> · <t t-esc="count(card.qty_remaining)"/> <t t-esc="card.product_uom_id and card.product_uom_id[1]"/></div>
                <div class="small text-muted"><t t-esc="labels.start"/>: <t t-esc="time(card.date_start)"/></div>
                <div class="d-flex justify-content-between align-items-center mt-1">
                  <span t-att-class="'o_sfb_state o_sfb_card_ack o_sfb_state_' + (col.ack ? col.ack.state : 'none')" t-esc="ackText(col.ack)"/>
                  <span t-if="!card.running" class="o_sfb_moves">
                    <button class="btn btn-sm btn-light o_sfb_up" t-att-aria-label="labels.moveUp + ' ' + (card.production_id and card.production_id[1])"
                            t-on-click="() => this.move(col, card, card_index - 1)">↑</button>
                    <button class="btn btn-sm btn-light o_sfb_down" t-att-aria-label="labels.moveDown + ' ' + (card.production_id and card.production_id[1])"
                            t-on-click="() => this.move(col, card, card_index + 1)">↓</button>
                  </span>
                </div>
              </li>
            </t>
            <li t-att-class="'o_sfb_drop_slot' + (state.over and state.over.column === col.id and state.over.index === col.cards.length ? ' o_sfb_over' : '')"
                aria-hidden="true" t-on-dragover="(ev) => this.onDragOver(ev, col, col.cards.length)"/>
          </ol>
          <p t-if="!col.cards.length" class="small text-muted" t-esc="labels.emptyQueue"/>
        </section>
      </div>
    </div>`;
  static override props = ["*"];

  declare state: {
    loading: boolean;
    error: string;
    data: BoardData | null;
    dragging: number | null;
    over: { column: number; index: number } | null;
    overColumn: number | null;
    showEmpty: boolean;
  };
  declare orm: OdooOrmService;
  declare notification: OdooNotificationService;
  declare labels: Record<string, string>;
  declare live: LiveRefresh;
  declare pollTimer: ReturnType<typeof setTimeout> | undefined;

  override setup(): void {
    useStyles("base", BASE_CSS);
    useStyles("board", CSS);
    this.orm = useService("orm");
    this.notification = useService("notification");
    const bus = useService("bus_service");
    this.labels = {
      title: _t("Dispatch board"),
      help: _t("Drag an order (or use ↑ ↓) to change its place in the work center's queue; the floor is told."),
      noDispatch: _t(
        "Planning push-back is not installed: moves change Odoo's plan, but nothing is sent to the floor.",
      ),
      loading: _t("Loading…"),
      floor: _t("Floor"),
      queueOf: _t("Queue of"),
      urgent: _t("Urgent"),
      start: _t("Planned start"),
      moveUp: _t("Move up"),
      moveDown: _t("Move down"),
      emptyQueue: _t("Nothing queued."),
      showEmpty: _t("Show work centers with an empty queue"),
    };
    this.state = useState({
      loading: true,
      error: "",
      data: null,
      dragging: null,
      over: null,
      overColumn: null,
      showEmpty: false,
    });
    this.live = new LiveRefresh(() => this.load());
    const onPing = () => this.live.ping();
    onWillStart(async () => {
      await this.load();
      bus.subscribe(EVENTS_CHANGED, onPing);
    });
    onWillUnmount(() => {
      bus.unsubscribe(EVENTS_CHANGED, onPing);
      this.live.stop();
      clearTimeout(this.pollTimer);
    });
  }

  async load(): Promise<void> {
    try {
      this.state.data = await this.orm.call<BoardData>("shopfloor.dashboard", "board_data", []);
      this.state.error = "";
    } catch (err) {
      this.state.error = _t("The board could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
    this.schedulePoll();
  }

  /** Floor acks arrive from the sidecar, not from this browser: poll while one is outstanding. */
  schedulePoll(): void {
    clearTimeout(this.pollTimer);
    const acks = this.state.data?.acks;
    const waiting = acks && Object.values(acks).some((a) => a.state === "pending" || a.state === "sent");
    if (waiting) this.pollTimer = setTimeout(() => this.live.ping(), ACK_POLL_MS);
  }

  get columns(): Column[] {
    const data = this.state.data;
    if (!data) return [];
    const acks = data.acks || {};
    const columns = data.workcenters.map((wc) => ({
      id: wc.id,
      name: wc.display_name,
      ack: acks[String(wc.id)] ?? null,
      cards: data.workorders
        .filter((wo) => wo.workcenter_id && wo.workcenter_id[0] === wc.id)
        .map((wo) => ({ ...wo, dateStart: wo.date_start, running: wo.state === "progress" }))
        .sort(compareCards),
    }));
    // On a tablet, empty queues would push the busy ones off screen.
    return this.state.showEmpty ? columns : columns.filter((c) => c.cards.length > 0);
  }

  ackText(ack: FloorAck | null): string {
    if (!ack) return this.state.data?.acks === false ? _t("not sent") : _t("nothing sent yet");
    const label: Record<string, string> = {
      pending: _t("to send"),
      sent: _t("sent"),
      acked: _t("acked"),
      failed: _t("failed"),
    };
    return `${label[ack.state] ?? ack.state} v${ack.version}${ack.state === "failed" && ack.error ? `: ${ack.error}` : ""}`;
  }
  count(v: number): string {
    return formatCount(v);
  }
  time(v: string | false): string {
    return v ? formatTime(v) : "–";
  }

  onDragStart(ev: DragEvent, card: BoardWorkorder): void {
    this.state.dragging = card.id;
    ev.dataTransfer?.setData("text/plain", String(card.id));
    if (ev.dataTransfer) ev.dataTransfer.effectAllowed = "move";
  }
  onDragEnd(): void {
    this.state.dragging = null;
    this.state.over = null;
    this.state.overColumn = null;
  }
  /**
   * Cards and the gaps between them both say where a drop lands. The gap
   * that opens above the card under the pointer is where the pointer ends
   * up, so it keeps that card's index instead of falling through to the
   * column (whose index is the end of the queue).
   */
  onDragOver(ev: DragEvent, col: Column, index: number): void {
    if (this.state.dragging === null || !col.cards.some((c) => c.id === this.state.dragging)) return;
    ev.preventDefault();
    ev.stopPropagation();
    this.state.overColumn = col.id;
    this.state.over = { column: col.id, index };
  }
  async onDrop(ev: DragEvent, col: Column): Promise<void> {
    ev.preventDefault();
    const dragged = this.state.dragging;
    const over = this.state.over;
    this.onDragEnd();
    if (dragged === null || !over || over.column !== col.id) return;
    // Slots count the dragged card itself; planDrop counts without it.
    const from = col.cards.findIndex((c) => c.id === dragged);
    const target = over.index > from ? over.index - 1 : over.index;
    const card = col.cards[from];
    if (card) await this.move(col, card, target);
  }

  async move(col: Column, card: BoardWorkorder, targetIndex: number): Promise<void> {
    const plan = planDrop(col.cards, card.id, targetIndex);
    if (!plan) return;
    try {
      await this.orm.call("shopfloor.dashboard", "move_workorder", [plan.id, plan.priority, plan.dateStart]);
      this.notification.add(
        _t("%s moved; the floor queue is being updated.", card.production_id ? card.production_id[1] : card.name),
        {
          type: "success",
        },
      );
    } catch (err) {
      this.notification.add(errorText(err), { type: "danger", title: _t("Not moved") });
    }
    await this.load();
  }
}

registry.category("actions").add("shopfloor_bridge.dispatch_board", DispatchBoard);
