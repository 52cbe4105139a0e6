import { Component } from "@odoo/owl";
import { formatTime, NO_VALUE } from "../../shared/format.ts";
import { eventStateLabel, eventTypeLabel, historyActionLabel } from "../../shared/states.ts";
import { _t } from "../../shared/web.ts";
import type { DlqDetail } from "../dlq_review/dlq_data.ts";
import { JsonView } from "../json_view/json_view.ts";

export interface DlqDetailPaneProps {
  event: DlqDetail;
  isManager: boolean;
  busy: boolean;
  onClose: () => void;
  onRetry: () => void;
  onEdit: () => void;
  onDiscard: () => void;
  onRetrySame: () => void;
  onDiscardSame: () => void;
  /** Opens a new payload mapping prefilled from this rejected payload. */
  onCreateMapping: () => void;
  /** The default slot: the editor or the reason form, under the actions. */
  slots?: Record<string, unknown>;
}

/** One dead letter: its error, traceback, actions, payload and history. */
export class DlqDetailPane extends Component<DlqDetailPaneProps> {
  static override template = "shopfloor_bridge.DlqDetailPane";
  static components = { JsonView };
  static override props = {
    event: Object,
    isManager: Boolean,
    busy: Boolean,
    onClose: Function,
    onRetry: Function,
    onEdit: Function,
    onDiscard: Function,
    onRetrySame: Function,
    onDiscardSame: Function,
    onCreateMapping: Function,
    slots: { type: Object, optional: true },
  };

  get payloadText(): string {
    const ev = this.props.event;
    return ev.data_json || ev.raw_payload || "";
  }
  get title(): string {
    const ev = this.props.event;
    // Odoo's term extraction skips a _t nested in another's arguments.
    const notAnEvent = _t("(not an event)");
    const type = eventTypeLabel(ev.type, ev.raw_payload);
    return _t("%(type)s · %(uid)s", { type: type === NO_VALUE ? notAnEvent : type, uid: ev.event_uid });
  }
  /** Where it came from and when: the event's own time, or when it was received. */
  get origin(): string {
    const ev = this.props.event;
    const when = ev.time ? formatTime(ev.time) : _t("received %s", formatTime(ev.ingest_time));
    return ev.subject
      ? _t("%(source)s · %(when)s · %(subject)s", { source: ev.source, when, subject: ev.subject })
      : _t("%(source)s · %(when)s", { source: ev.source, when });
  }
  /** Bytes the sidecar could not read as an event (no type), kept whole, can start a payload mapping. */
  get canCreateMapping(): boolean {
    const ev = this.props.event;
    return ev.state === "rejected" && !ev.type && Boolean(ev.raw_payload) && !ev.raw_truncated;
  }
  time(v: string | false): string {
    return formatTime(v);
  }
  stateLabel(s: string): string {
    return eventStateLabel(s);
  }
  historyAction(a: string): string {
    return historyActionLabel(a);
  }
}
