import { Component, onWillStart, useState } from "@odoo/owl";
import {
  errorText,
  formatAge,
  formatCount,
  formatDuration,
  formatNow,
  formatPercent,
  formatRate,
  formatVariance,
  STALE_HEARTBEAT_S,
} from "../../shared/format.ts";
import type { LiveRefresh } from "../../shared/live.ts";
import { sparkline } from "../../shared/sparkline.ts";
import { useScreen } from "../../shared/use_screen.ts";
import { _t, registry, standardActionServiceProps } from "../../shared/web.ts";

/** One connection as `shopfloor.dashboard.get_dashboard` reports it. */
export interface ConnectionTile {
  connection_id: number;
  code: string;
  name: string;
  kind: string;
  /** The kind as people read it (RabbitMQ (AMQP 0-9-1), Kafka…), in the user's language. */
  kind_label: string;
  /** Where the sidecar takes its input: broker URL (and queues, topics or streams), or OPC UA endpoint; no credentials. */
  endpoint: string;
  last_seen: string | false;
  /** Seconds since the last heartbeat, -1 when never seen. */
  heartbeat_age_s: number;
  sidecar_version: string | false;
  spool_depth: number;
  /** Spooled events the sidecar took out of delivery; a person must unpark or skip them. */
  spool_parked: number;
  in_per_min: number;
  applied_per_min: number;
  rejected: number;
  dlq: number;
  pending: number;
  failed: number;
  p95_lag_ms: number | false;
  worst_skew_ms: number | false;
  /** Events received per minute over the last hour, oldest first. */
  sparkline: number[];
  /** The sidecar delivers a large backlog in catch-up mode (its last heartbeat). */
  catchup: boolean;
  /** Events queued in the sidecar's spool (its last heartbeat). */
  catchup_backlog: number;
  /** Events per second the backlog drained at over the sidecar's last minute. */
  drain_rate: number;
  /** Seconds to drain the backlog at that rate; false when nothing drains yet. */
  drain_eta_s: number | false;
  /** The sidecar's source does not read its floor (a polled PLC that does not answer; its last heartbeat). */
  source_down: boolean;
  /** Why, as the sidecar said it ("" when it did not). */
  source_error: string;
  source_warning: string;
  /** Alerts of this connection's rules that are open now. */
  open_alerts: number;
}

export interface CostVariance {
  model: string;
  res_id: number;
  name: string;
  variance: number;
  variance_pct: number | false;
  currency: string;
}

/** A work center's standard OEE (ISO 22400-2) over the dashboard's days, Odoo's own OEE beside it. */
export interface OeeRow {
  workcenter_id: number;
  name: string;
  date_from: string;
  date_to: string;
  /** Percentages; false when a denominator is zero (no planned time, no run time, no count). */
  std_oee: number | false;
  std_availability: number | false;
  std_performance: number | false;
  std_quality: number | false;
  odoo_oee: number;
  flag_count: number;
  /** "day: reason" of each day whose data contradicts itself. */
  flags: string[];
}

export interface DashboardData {
  server_time: string;
  tiles: ConnectionTile[];
  /** false when the cost part is not installed. */
  cost_variances: CostVariance[] | false;
  /** false (or absent) when no work center ran or counted in the period. */
  oee?: OeeRow[] | false;
}

const SPARK_W = 280;
const SPARK_H = 40;

/** Live per-connection health of the bridge; refreshed by bus pings, never by reloading the page. */
export class ShopfloorDashboard extends Component {
  static override template = "shopfloor_bridge.Dashboard";
  static override props = { ...standardActionServiceProps };

  declare state: { loading: boolean; error: string; data: DashboardData | null; updatedAt: string };
  declare orm: OdooOrmService;
  declare action: OdooActionService;
  declare live: LiveRefresh;
  sparkW = SPARK_W;
  sparkH = SPARK_H;

  override setup(): void {
    const screen = useScreen(() => this.load());
    this.orm = screen.orm;
    this.action = screen.action;
    this.live = screen.live;
    this.state = useState({ loading: true, error: "", data: null, updatedAt: "" });
    onWillStart(() => this.load());
  }

  async load(): Promise<void> {
    this.state.loading = true;
    try {
      this.state.data = await this.orm.call<DashboardData>("shopfloor.dashboard", "get_dashboard", []);
      this.state.error = "";
      this.state.updatedAt = formatNow();
    } catch (err) {
      this.state.error = _t("The dashboard could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
  }

  get updatedText(): string {
    const at = this.state.updatedAt;
    return at ? _t("Updated %s", at) : "";
  }

  get parkedHint(): string {
    return _t(
      "Not delivered until someone decides: on the sidecar's host, `shopfloor-sidecar spool list --state parked`, then unpark or skip them.",
    );
  }

  /** "Catching up: N queued, about M min to drain", while the sidecar says so and is alive; else "". */
  catchupText(tile: ConnectionTile): string {
    if (!tile.catchup || this.isStale(tile)) return "";
    const queued = formatCount(tile.catchup_backlog);
    if (tile.drain_eta_s === false) return _t("Catching up: %(queued)s queued, not draining yet", { queued });
    return _t("Catching up: %(queued)s queued, about %(minutes)s min to drain", {
      queued,
      minutes: formatCount(Math.max(1, Math.ceil(tile.drain_eta_s / 60))),
    });
  }

  /** "Not reading its source: why", while the sidecar is alive and says so; else "". */
  sourceDownText(tile: ConnectionTile): string {
    if (!tile.source_down || this.isStale(tile)) return "";
    return tile.source_error
      ? _t("Not reading its source: %s", tile.source_error)
      : _t("Not reading its source: not connected");
  }

  /** "Does not read all of its source: what it leaves out", while the sidecar is alive and says so; else "". */
  sourceWarningText(tile: ConnectionTile): string {
    if (!tile.source_warning || this.isStale(tile)) return "";
    return _t("Does not read all of its source: %s", tile.source_warning);
  }

  isStale(tile: ConnectionTile): boolean {
    return tile.heartbeat_age_s < 0 || tile.heartbeat_age_s > STALE_HEARTBEAT_S;
  }
  age(tile: ConnectionTile): string {
    return formatAge(tile.heartbeat_age_s < 0 ? null : tile.heartbeat_age_s);
  }
  rate(v: number): string {
    return formatRate(v);
  }
  count(v: number): string {
    return formatCount(v);
  }
  duration(v: number | false): string {
    return formatDuration(v === false ? null : v);
  }
  geometry(tile: ConnectionTile) {
    return sparkline(tile.sparkline, SPARK_W, SPARK_H);
  }
  sparkLabel(tile: ConnectionTile): string {
    const total = tile.sparkline.reduce((a, b) => a + b, 0);
    return _t("%(total)s events received in the last hour, at most %(max)s in one minute", {
      total: formatCount(total),
      max: formatCount(Math.max(0, ...tile.sparkline)),
    });
  }
  variance(v: CostVariance): string {
    return formatVariance(v.variance, v.currency, v.variance_pct);
  }

  percent(value: number | false): string {
    return formatPercent(value);
  }

  /** The OEE report's rows behind a work center's figures; each drills to its time logs and events. */
  openOee(row: OeeRow): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      name: _t("OEE of %s", row.name),
      res_model: "shopfloor.oee.report",
      views: [
        [false, "list"],
        [false, "pivot"],
      ],
      domain: [
        ["workcenter_id", "=", row.workcenter_id],
        ["date", ">=", row.date_from],
        ["date", "<=", row.date_to],
      ],
    });
  }

  openDlq(tile: ConnectionTile): Promise<void> {
    return this.action.doAction("shopfloor_bridge.shopfloor_dlq_action", {
      additionalContext: { sfb_connection_id: tile.connection_id },
    });
  }
  openAlerts(tile: ConnectionTile): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      name: _t("Open alerts of %s", tile.name),
      res_model: "shopfloor.alert",
      views: [
        [false, "list"],
        [false, "form"],
      ],
      domain: [
        ["state", "=", "open"],
        ["connection_id", "=", tile.connection_id],
      ],
    });
  }
  openPending(tile: ConnectionTile): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      name: _t("Pending events of %s", tile.name),
      res_model: "shopfloor.event",
      views: [
        [false, "list"],
        [false, "form"],
      ],
      domain: [
        ["state", "=", "pending"],
        ["connection_id", "=", tile.connection_id],
      ],
    });
  }
  openRecord(model: string, resId: number): Promise<void> {
    return this.action.doAction({
      type: "ir.actions.act_window",
      res_model: model,
      res_id: resId,
      views: [[false, "form"]],
    });
  }
}

registry.category("actions").add("shopfloor_bridge.dashboard", ShopfloorDashboard);
