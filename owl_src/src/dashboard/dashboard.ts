import { Component, onWillStart, onWillUnmount, useState, xml } from "@odoo/owl";
import { formatAge, formatCount, formatDuration, formatRate, STALE_HEARTBEAT_S } from "../shared/format.ts";
import { LiveRefresh } from "../shared/live.ts";
import { sparkline } from "../shared/sparkline.ts";
import { BASE_CSS, useStyles } from "../shared/styles.ts";
import { _t, EVENTS_CHANGED, registry, useService } from "../shared/web.ts";

/** One connection as `shopfloor.dashboard.get_dashboard` reports it. */
export interface ConnectionTile {
  connection_id: number;
  code: string;
  name: string;
  kind: string;
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
}

export interface CostVariance {
  model: string;
  res_id: number;
  name: string;
  variance: number;
  variance_pct: number | false;
  currency: string;
}

export interface DashboardData {
  server_time: string;
  tiles: ConnectionTile[];
  /** false when the cost part is not installed. */
  cost_variances: CostVariance[] | false;
}

const CSS = `
.o_sfb_tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1rem; }
.o_sfb_tile { border: 1px solid #ced4da; border-radius: .5rem; padding: .75rem 1rem; background: #fff; }
.o_sfb_tile h2 { font-size: 1.1rem; margin: 0; }
.o_sfb_tile dl { display: grid; grid-template-columns: 1fr auto; gap: .15rem .75rem; margin: .5rem 0; }
.o_sfb_tile dt { font-weight: normal; color: #495057; }
.o_sfb_tile dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.o_sfb_tile .o_sfb_stale { color: #8a0f1c; }
.o_sfb_tile dd.o_sfb_alert { color: #8a0f1c; background: #ffd9dc; border-radius: .3rem; padding: 0 .35rem; }
.o_sfb_spark { width: 100%; height: 40px; display: block; }
.o_sfb_spark polyline { fill: none; stroke: #1f6feb; stroke-width: 1.5; }
.o_sfb_spark path { fill: #1f6feb22; }
.o_sfb_links { display: flex; gap: .5rem; flex-wrap: wrap; }
.o_sfb_variances { margin-top: 1.5rem; max-width: 720px; }
`;

const SPARK_W = 280;
const SPARK_H = 40;

/** Live per-connection health of the bridge; refreshed by bus pings, never by reloading the page. */
export class ShopfloorDashboard extends Component {
  static override template = xml`
    <div class="o_sfb_screen o_sfb_dashboard" role="main">
      <div class="d-flex align-items-baseline gap-3 mb-3 flex-wrap">
        <h1 class="h3 m-0" t-esc="labels.title"/>
        <span class="text-muted small o_sfb_updated" role="status" aria-live="polite" t-esc="updatedText"/>
        <button class="btn btn-secondary btn-sm ms-auto o_sfb_refresh" t-on-click="() => this.load()" t-esc="labels.refresh"/>
      </div>
      <div t-if="state.error" class="alert alert-danger o_sfb_error" role="alert" t-esc="state.error"/>
      <div t-elif="state.loading and !state.data" class="o_sfb_empty o_sfb_loading" role="status" t-esc="labels.loading"/>
      <t t-elif="state.data">
        <p t-if="!state.data.tiles.length" class="o_sfb_empty" t-esc="labels.noConnections"/>
        <div class="o_sfb_tiles">
          <section t-foreach="state.data.tiles" t-as="tile" t-key="tile.connection_id"
                   class="o_sfb_tile" t-att-data-connection="tile.code" t-att-aria-labelledby="'sfb-tile-' + tile.connection_id">
            <div class="d-flex justify-content-between align-items-baseline">
              <h2 t-att-id="'sfb-tile-' + tile.connection_id"><t t-esc="tile.name"/> <small class="text-muted" t-esc="tile.code"/></h2>
              <span t-att-class="'o_sfb_heartbeat ' + (isStale(tile) ? 'o_sfb_stale fw-bold' : 'text-success')"
                    t-att-title="labels.heartbeat"><t t-esc="labels.heartbeat"/>: <t t-esc="age(tile)"/></span>
            </div>
            <svg class="o_sfb_spark" t-att-viewBox="'0 0 ' + sparkW + ' ' + sparkH" preserveAspectRatio="none"
                 role="img" t-att-aria-label="sparkLabel(tile)">
              <t t-set="geo" t-value="geometry(tile)"/>
              <path t-att-d="geo.area"/>
              <polyline t-att-points="geo.points"/>
            </svg>
            <dl>
              <dt t-esc="labels.inPerMin"/><dd class="o_sfb_in" t-esc="rate(tile.in_per_min)"/>
              <dt t-esc="labels.appliedPerMin"/><dd class="o_sfb_applied" t-esc="rate(tile.applied_per_min)"/>
              <dt t-esc="labels.spool"/><dd class="o_sfb_spool" t-esc="count(tile.spool_depth)"/>
              <dt t-esc="labels.parked"/>
              <dd t-att-class="'o_sfb_parked' + (tile.spool_parked ? ' o_sfb_alert' : '')"
                  t-att-title="tile.spool_parked ? labels.parkedHint : ''" t-esc="count(tile.spool_parked)"/>
              <dt t-esc="labels.rejected"/><dd class="o_sfb_rejected" t-esc="count(tile.rejected)"/>
              <dt t-esc="labels.lag"/><dd class="o_sfb_lag" t-esc="duration(tile.p95_lag_ms)"/>
              <dt t-esc="labels.skew"/><dd class="o_sfb_skew" t-esc="duration(tile.worst_skew_ms)"/>
            </dl>
            <div class="o_sfb_links">
              <button class="btn btn-sm o_sfb_dlq_link" t-att-class="tile.dlq ? 'btn-danger' : 'btn-outline-secondary'"
                      t-on-click="() => this.openDlq(tile)">
                <t t-esc="labels.dlq"/>: <strong class="o_sfb_dlq_count" t-esc="count(tile.dlq)"/>
              </button>
              <button class="btn btn-sm btn-outline-secondary o_sfb_pending_link" t-on-click="() => this.openPending(tile)">
                <t t-esc="labels.pending"/>: <strong class="o_sfb_pending_count" t-esc="count(tile.pending)"/>
              </button>
            </div>
          </section>
        </div>
        <section t-if="state.data.cost_variances and state.data.cost_variances.length" class="o_sfb_variances" aria-labelledby="sfb-variances">
          <h2 id="sfb-variances" class="h5" t-esc="labels.variances"/>
          <table class="table table-sm">
            <thead><tr><th scope="col" t-esc="labels.order"/><th scope="col" class="text-end" t-esc="labels.variance"/></tr></thead>
            <tbody>
              <tr t-foreach="state.data.cost_variances" t-as="v" t-key="v.model + v.res_id">
                <td><a href="#" t-on-click.prevent="() => this.openRecord(v.model, v.res_id)" t-esc="v.name"/></td>
                <td class="text-end" t-att-class="v.variance > 0 ? 'text-danger' : 'text-success'" t-esc="variance(v)"/>
              </tr>
            </tbody>
          </table>
        </section>
      </t>
    </div>`;
  static override props = ["*"];

  declare state: { loading: boolean; error: string; data: DashboardData | null; updatedAt: Date | null };
  declare orm: OdooOrmService;
  declare action: OdooActionService;
  declare live: LiveRefresh;
  declare labels: Record<string, string>;
  sparkW = SPARK_W;
  sparkH = SPARK_H;

  override setup(): void {
    useStyles("base", BASE_CSS);
    useStyles("dashboard", CSS);
    this.orm = useService("orm");
    this.action = useService("action");
    const bus = useService("bus_service");
    this.labels = {
      title: _t("Shop floor connections"),
      refresh: _t("Refresh"),
      loading: _t("Loading…"),
      noConnections: _t("No connection is configured yet."),
      heartbeat: _t("Heartbeat"),
      inPerMin: _t("Events in /min"),
      appliedPerMin: _t("Applied /min"),
      spool: _t("Spool depth"),
      parked: _t("Parked in spool"),
      parkedHint: _t(
        "Not delivered until someone decides: on the sidecar's host, `shopfloor-sidecar spool list --state parked`, then unpark or skip them.",
      ),
      rejected: _t("Rejected (1 h)"),
      lag: _t("p95 lag time → applied"),
      skew: _t("Worst clock skew"),
      dlq: _t("Dead letters"),
      pending: _t("Pending"),
      variances: _t("Top cost variances"),
      order: _t("Order"),
      variance: _t("Actual − standard"),
    };
    this.state = useState({ loading: true, error: "", data: null, updatedAt: null });
    this.live = new LiveRefresh(() => this.load());
    const onPing = () => this.live.ping();
    onWillStart(async () => {
      await this.load();
      bus.subscribe(EVENTS_CHANGED, onPing);
      bus.start();
    });
    onWillUnmount(() => {
      bus.unsubscribe(EVENTS_CHANGED, onPing);
      this.live.stop();
    });
  }

  async load(): Promise<void> {
    this.state.loading = true;
    try {
      this.state.data = await this.orm.call<DashboardData>("shopfloor.dashboard", "get_dashboard", []);
      this.state.error = "";
      this.state.updatedAt = new Date();
    } catch (err) {
      this.state.error = _t("The dashboard could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
  }

  get updatedText(): string {
    const at = this.state.updatedAt;
    return at ? _t("Updated %s", at.toLocaleTimeString()) : "";
  }

  isStale(tile: ConnectionTile): boolean {
    return tile.heartbeat_age_s < 0 || tile.heartbeat_age_s > STALE_HEARTBEAT_S;
  }
  age(tile: ConnectionTile): string {
    return formatAge(tile.heartbeat_age_s < 0 ? null : tile.heartbeat_age_s, _t);
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
    return _t("%s events received in the last hour, at most %s in one minute", total, Math.max(0, ...tile.sparkline));
  }
  variance(v: CostVariance): string {
    const pct = v.variance_pct === false ? "" : ` (${v.variance_pct > 0 ? "+" : ""}${v.variance_pct.toFixed(1)} %)`;
    return `${v.variance > 0 ? "+" : ""}${v.variance.toFixed(2)} ${v.currency}${pct}`;
  }

  openDlq(tile: ConnectionTile): Promise<void> {
    return this.action.doAction("shopfloor_bridge.shopfloor_dlq_action", {
      additionalContext: { sfb_connection_id: tile.connection_id },
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

export function errorText(err: unknown): string {
  const e = err as { data?: { message?: string }; message?: string };
  return e?.data?.message || e?.message || String(err);
}

registry.category("actions").add("shopfloor_bridge.dashboard", ShopfloorDashboard);
