import { Component, onMounted, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import {
  errorText,
  formatAge,
  formatCount,
  formatDuration,
  formatNow,
  STALE_HEARTBEAT_S,
} from "../../shared/format.ts";
import { useScreen } from "../../shared/use_screen.ts";
import { _t, registry, standardActionServiceProps, useService } from "../../shared/web.ts";
import type { ConnectionTile } from "../dashboard/dashboard.ts";
import { LiveTile } from "../live_tile/live_tile.ts";
import { changedIds, groupByLine, type LineGroup, mergeTiles, type PlantTile, WORKCENTERS_CHANGED } from "./plant.ts";
import { TileRefresh } from "./tile_refresh.ts";

/** What `shopfloor.live.view.get_live_view` returns. */
export interface LiveViewData {
  server_time: string;
  tiles: PlantTile[];
  /** True when only the tiles asked for were read. */
  partial: boolean;
  /** The dashboard's connection tiles (absent on a tiles-only read). */
  health?: ConnectionTile[];
}

// Ages tick every second; plan and OEE move with the clock, so every tile is read again this often.
const TICK_MS = 1000;
const FULL_READ_MS = 60_000;

/** The landing page: what every work center does now, grouped by line, under the integration's health. */
export class LiveView extends Component {
  static override template = "shopfloor_bridge.LiveView";
  static override props = { ...standardActionServiceProps };
  static components = { LiveTile };

  declare state: {
    loading: boolean;
    error: string;
    tiles: PlantTile[];
    health: ConnectionTile[];
    /** Browser time (ms) of the last read, for the ages between reads. */
    readAt: number;
    now: number;
    updatedAt: string;
    reads: number;
    tilesRead: number;
  };
  declare orm: OdooOrmService;
  declare action: OdooActionService;
  declare refresh: TileRefresh;

  override setup(): void {
    const screen = useScreen(() => this.loadHealth());
    this.orm = screen.orm;
    this.action = screen.action;
    this.state = useState({
      loading: true,
      error: "",
      tiles: [],
      health: [],
      readAt: Date.now(),
      now: Date.now(),
      updatedAt: "",
      reads: 0,
      tilesRead: 0,
    });
    this.refresh = new TileRefresh((ids) => (ids ? this.loadTiles(ids) : this.load()));
    const bus = useService("bus_service");
    const onChanged = (payload: unknown) => this.refresh.changed(changedIds(payload));
    let ticker: ReturnType<typeof setInterval> | undefined;
    let fullReads: ReturnType<typeof setInterval> | undefined;
    onWillStart(() => this.load());
    onMounted(() => {
      bus.subscribe(WORKCENTERS_CHANGED, onChanged);
      ticker = setInterval(() => {
        this.state.now = Date.now();
      }, TICK_MS);
      fullReads = setInterval(() => this.refresh.full(), FULL_READ_MS);
    });
    onWillUnmount(() => {
      bus.unsubscribe(WORKCENTERS_CHANGED, onChanged);
      clearInterval(ticker);
      clearInterval(fullReads);
      this.refresh.stop();
    });
  }

  /** Every tile and the health strip. */
  async load(): Promise<void> {
    try {
      const data = await this.orm.call<LiveViewData>("shopfloor.live.view", "get_live_view", []);
      this.state.tiles = data.tiles;
      this.state.health = data.health ?? [];
      this.read(data.tiles.length);
      this.state.error = "";
    } catch (err) {
      this.state.error = _t("The live view could not be loaded: %s", errorText(err));
    } finally {
      this.state.loading = false;
    }
  }

  /** The tiles a bus message named. */
  async loadTiles(ids: number[]): Promise<void> {
    const data = await this.orm.call<LiveViewData>("shopfloor.live.view", "get_live_view", [ids]);
    this.state.tiles = mergeTiles(this.state.tiles, data.tiles);
    this.read(data.tiles.length);
  }

  /** The health strip alone, on the "events changed" ping. */
  async loadHealth(): Promise<void> {
    const data = await this.orm.call<LiveViewData>("shopfloor.live.view", "get_live_view", [[]], {
      with_health: true,
    });
    this.state.health = data.health ?? [];
  }

  private read(tiles: number): void {
    this.state.readAt = Date.now();
    this.state.now = this.state.readAt;
    this.state.updatedAt = formatNow();
    this.state.reads++;
    this.state.tilesRead += tiles;
  }

  get lines(): LineGroup[] {
    return groupByLine(this.state.tiles);
  }
  get elapsedS(): number {
    return Math.max(0, (this.state.now - this.state.readAt) / 1000);
  }
  get updatedText(): string {
    return this.state.updatedAt ? _t("Updated %s", this.state.updatedAt) : "";
  }
  lineSummary(group: LineGroup): string {
    return _t("%(running)s running · %(down)s down · %(held)s held · %(setup)s setup · %(idle)s idle", {
      running: formatCount(group.counts.running),
      down: formatCount(group.counts.down),
      held: formatCount(group.counts.held),
      setup: formatCount(group.counts.setup),
      idle: formatCount(group.counts.idle),
    });
  }

  // -- health strip (the dashboard's connection tiles, compact)
  isStale(conn: ConnectionTile): boolean {
    return conn.heartbeat_age_s < 0 || conn.heartbeat_age_s + this.elapsedS > STALE_HEARTBEAT_S;
  }
  heartbeat(conn: ConnectionTile): string {
    return formatAge(conn.heartbeat_age_s < 0 ? null : conn.heartbeat_age_s + this.elapsedS);
  }
  healthText(conn: ConnectionTile): string {
    return _t("spool %(spool)s · dead letters %(dlq)s · lag %(lag)s · clock %(skew)s", {
      spool: formatCount(conn.spool_depth),
      dlq: formatCount(conn.dlq),
      lag: formatDuration(conn.p95_lag_ms === false ? null : conn.p95_lag_ms),
      skew: formatDuration(conn.worst_skew_ms === false ? null : conn.worst_skew_ms),
    });
  }
  healthAlert(conn: ConnectionTile): boolean {
    return this.isStale(conn) || conn.dlq > 0 || conn.spool_parked > 0 || conn.source_down;
  }

  openDashboard(): Promise<void> {
    return this.action.doAction("shopfloor_bridge.shopfloor_dashboard_action");
  }
  /** The work center's timeline in the event explorer. */
  openTimeline(tile: PlantTile): Promise<void> {
    return this.action.doAction("shopfloor_bridge.shopfloor_event_explorer_action", {
      additionalContext: { sfb_workcenter_id: tile.workcenter_id },
    });
  }
}

registry.category("actions").add("shopfloor_bridge.home", LiveView);
