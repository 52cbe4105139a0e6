import { Component } from "@odoo/owl";
import { displayValue, formatAge, formatTime, NO_VALUE } from "../../shared/format.ts";
import { _t } from "../../shared/web.ts";
import {
  countsText,
  lastEventText,
  oeeParts,
  oeeText,
  type PlantTile,
  planShare,
  stateLabel,
} from "../live_view/plant.ts";

/** One work center on the live plant view; a click opens its timeline. */
export class LiveTile extends Component {
  static override template = "shopfloor_bridge.LiveTile";
  static override props = {
    tile: Object,
    /** Seconds since the server computed the tile (ages keep counting between reads). */
    elapsedS: Number,
    onOpen: Function,
  };

  declare props: { tile: PlantTile; elapsedS: number; onOpen: (tile: PlantTile) => void };

  get tile(): PlantTile {
    return this.props.tile;
  }
  get stateText(): string {
    return stateLabel(this.tile.state);
  }
  /** "Breakdown · since 08:05 (12 min)" for a stop, a setup or a hold; "" otherwise. */
  get sinceText(): string {
    const tile = this.tile;
    if (!tile.since) return "";
    const since = formatTime(tile.since) || NO_VALUE;
    const ageS = this.ageOf(tile.since);
    const when = ageS === null ? since : _t("since %(time)s (%(age)s)", { time: since, age: formatAge(ageS) });
    return tile.reason ? _t("%(reason)s · %(when)s", { reason: tile.reason, when }) : when;
  }
  get orderText(): string {
    const tile = this.tile;
    if (!tile.production) return _t("No order");
    return _t("%(order)s · %(operation)s", {
      order: displayValue(tile.production),
      operation: displayValue(tile.operation),
    });
  }
  get productText(): string {
    return displayValue(this.tile.product);
  }
  get counts(): string {
    return countsText(this.tile);
  }
  get planWidth(): string {
    const share = planShare(this.tile);
    return share === false ? "0%" : `${Math.min(100, Math.max(0, share)).toFixed(1)}%`;
  }
  get hasPlan(): boolean {
    return planShare(this.tile) !== false;
  }
  get oee(): string {
    return oeeText(this.tile);
  }
  get oeeTitle(): string {
    return oeeParts(this.tile);
  }
  get lastEvent(): string {
    return lastEventText(this.tile, this.props.elapsedS);
  }
  get label(): string {
    return _t("%(workcenter)s: %(state)s. Open its timeline", { workcenter: this.tile.name, state: this.stateText });
  }

  ageOf(serverTime: string): number | null {
    const at = Date.parse(`${serverTime.replace(" ", "T")}Z`);
    return Number.isNaN(at) ? null : Math.max(0, (Date.now() - at) / 1000);
  }

  open(): void {
    this.props.onOpen(this.tile);
  }
}
