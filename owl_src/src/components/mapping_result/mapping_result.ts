import { Component } from "@odoo/owl";
import { _t, formatInteger } from "../../shared/web.ts";
import { JsonView } from "../json_view/json_view.ts";
import type { EventCheck, Observation, TryOutcome } from "../mapping_try/try_run.ts";

export interface MappingResultProps {
  /** null until the first evaluation. */
  outcome: TryOutcome | null;
  /** The schema check per event; null while it runs or when there are no events. */
  checks: EventCheck[] | null;
  /** Why the schema check could not run, "" when it did. */
  checkError: string;
  evaluating: boolean;
}

/** What the sample becomes: the CloudEvents (or observations) with the schema's verdict, or the error. */
export class MappingResult extends Component<MappingResultProps> {
  static override template = "shopfloor_bridge.MappingResult";
  static components = { JsonView };
  static override props = {
    outcome: { type: [Object, { value: null }] },
    checks: { type: [Array, { value: null }] },
    checkError: String,
    evaluating: Boolean,
  };

  get events(): Record<string, unknown>[] {
    const outcome = this.props.outcome;
    return outcome?.status === "events" ? outcome.events : [];
  }
  get observations(): Observation[] {
    const outcome = this.props.outcome;
    return outcome?.status === "values" ? outcome.observations : [];
  }
  get summary(): string {
    const outcome = this.props.outcome;
    if (!outcome) return _t("Type or pick a sample payload to see what it becomes.");
    if (outcome.status === "error") return _t("The mapping fails on this payload.");
    if (outcome.status === "values") {
      return outcome.observations.length === 1
        ? _t("1 value for the rules")
        : _t("%s values for the rules", formatInteger(outcome.observations.length));
    }
    if (outcome.events.length === 0) return _t("No event: the payload would be consumed and counted.");
    return outcome.events.length === 1
      ? _t("1 CloudEvent")
      : _t("%s CloudEvents", formatInteger(outcome.events.length));
  }
  get checksFail(): boolean {
    return (this.props.checks ?? []).some((check) => check.errors.length > 0);
  }
  get checkSummary(): string {
    const checks = this.props.checks;
    if (!checks) return "";
    const failing = checks.filter((check) => check.errors.length > 0).length;
    if (!failing) return _t("Every event passes the module's schema.");
    return _t("%(failing)s of %(total)s events fail the module's schema.", {
      failing: formatInteger(failing),
      total: formatInteger(checks.length),
    });
  }
  errorsOf(index: number): string[] {
    return this.props.checks?.[index]?.errors ?? [];
  }
  eventTitle(event: Record<string, unknown>, index: number): string {
    return _t("%(n)s. %(type)s from %(source)s", {
      n: formatInteger(index + 1),
      type: String(event.type ?? "?"),
      source: String(event.source ?? "?"),
    });
  }
  json(value: unknown): string {
    return JSON.stringify(value, null, 2);
  }
  valueText(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
  }
}
