// What an MQTT source subscribes to when the connection has payload
// mappings: its own topics and the topic filters of its mqtt mappings, so a
// Kepware or UNS topic outside `shopfloor/#` reaches the mapping stage.
import type { PayloadMapping } from "../core/contract.ts";
import { mqttFilterProblem } from "./evaluate.ts";

/**
 * The connection's topics plus the valid filters of its mqtt payload
 * mappings, without a filter another one already covers: a broker may
 * deliver a message once per matching subscription (MQTT 5 §4.7.2 leaves it
 * open), and one copy is enough.
 */
export function mqttSubscriptions(topics: readonly string[], maps: readonly PayloadMapping[] = []): string[] {
  const wanted = [...topics];
  for (const map of maps) {
    if (map.transport === "mqtt" && mqttFilterProblem(map.match) === undefined) wanted.push(map.match);
  }
  const unique = [...new Set(wanted)];
  return unique.filter((filter, index) =>
    unique.every(
      (other, j) => j === index || !filterCovers(other, filter) || (filterCovers(filter, other) && index < j),
    ),
  );
}

/**
 * Whether every topic `narrow` matches is matched by `wide` as well (both
 * valid filters). Conservative: false when unsure, which costs at most a
 * second subscription.
 */
export function filterCovers(wide: string, narrow: string): boolean {
  const wideLevels = wide.split("/");
  const narrowLevels = narrow.split("/");
  // A wildcard first level never matches `$` topics; a literal `$…` level is only matched literally.
  if ((wideLevels[0] === "+" || wideLevels[0] === "#") && narrowLevels[0]?.startsWith("$")) return false;
  for (const [i, level] of wideLevels.entries()) {
    if (level === "#") return true;
    const other = narrowLevels[i];
    if (other === undefined || other === "#") return false;
    if (level !== "+" && (other === "+" || level !== other)) return false;
  }
  return wideLevels.length === narrowLevels.length;
}
