import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { displayTime, displayValue, errorText, formatCount } from "../../shared/format.ts";
import type { LiveRefresh } from "../../shared/live.ts";
import { useScreen } from "../../shared/use_screen.ts";
import { _t, registry, standardActionServiceProps } from "../../shared/web.ts";
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
  /** The start the floor queue sorts by: the WO's planned start, else its MO's. */
  queue_start: string | false;
  sequence: number;
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

/** The planner's board: the floor queue of each work center; drag to re-plan, see the floor acknowledge it. */
export class DispatchBoard extends Component {
  static override template = "shopfloor_bridge.DispatchBoard";
  static override props = { ...standardActionServiceProps };

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
  declare live: LiveRefresh;
  declare pollTimer: ReturnType<typeof setTimeout> | undefined;

  override setup(): void {
    const screen = useScreen(() => this.load());
    this.orm = screen.orm;
    this.notification = screen.notification;
    this.live = screen.live;
    this.state = useState({
      loading: true,
      error: "",
      data: null,
      dragging: null,
      over: null,
      overColumn: null,
      showEmpty: false,
    });
    onWillStart(() => this.load());
    onWillUnmount(() => clearTimeout(this.pollTimer));
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
        .map((wo) => ({
          ...wo,
          dateStart: wo.queue_start,
          productionId: wo.production_id ? wo.production_id[0] : 0,
          running: wo.state === "progress",
        }))
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
    const values = { state: label[ack.state] ?? ack.state, version: ack.version, error: ack.error };
    return ack.state === "failed" && ack.error
      ? _t("%(state)s v%(version)s: %(error)s", values)
      : _t("%(state)s v%(version)s", values);
  }
  moName(card: BoardWorkorder): string {
    return card.production_id ? card.production_id[1] : card.name;
  }
  moveLabel(direction: "up" | "down", card: BoardWorkorder): string {
    return direction === "up" ? _t("Move up %s", this.moName(card)) : _t("Move down %s", this.moName(card));
  }
  queueLabel(col: Column): string {
    return _t("Queue of %s", col.name);
  }
  count(v: number): string {
    return formatCount(v);
  }
  time(v: string | false): string {
    return displayTime(v);
  }
  /** A Many2one or any other field value, "—" when empty. */
  value(v: unknown): string {
    return displayValue(v);
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
      await this.orm.call("shopfloor.dashboard", "move_workorder", [
        plan.id,
        plan.priority,
        plan.dateStart,
        plan.shifts.map((s) => [s.id, s.dateStart]),
      ]);
      this.notification.add(_t("%s moved; the floor queue is being updated.", this.moName(card)), {
        type: "success",
      });
    } catch (err) {
      this.notification.add(errorText(err), { type: "danger", title: _t("Not moved") });
    }
    await this.load();
  }
}

registry.category("actions").add("shopfloor_bridge.dispatch_board", DispatchBoard);
