import { Component, onWillUnmount, useState } from "@odoo/owl";
import { displayValue } from "../../shared/format.ts";
import { _t, registry, standardWidgetProps, useService } from "../../shared/web.ts";
import { askProbe, many2oneId, type NodeInfo, type PlcReadAnswer, valueText } from "../tag_picker/probe_client.ts";
import { TagPicker } from "../tag_picker/tag_picker.ts";

/** Rule protocols read directly from a PLC (sources/plc in the sidecar). */
export const PLC_PROTOCOLS = ["modbus", "s7", "enip"];

export interface TagProbeProps {
  record: OdooRecord;
  readonly?: boolean;
}

interface ReadState {
  reading: boolean;
  text: string;
  error: string;
}

/**
 * The tag rule form's header widget: "Browse…" opens the OPC UA tag picker
 * for an OPC UA rule; "Read once" reads a PLC rule's address through the
 * connection's sidecar and shows the value and type, or why there is none.
 */
export class TagProbe extends Component<TagProbeProps> {
  static override template = "shopfloor_bridge.TagProbe";
  static override props = { ...standardWidgetProps };

  declare state: ReadState;
  declare orm: OdooOrmService;
  declare dialog: OdooDialogService;
  gone = false;

  override setup(): void {
    this.orm = useService("orm");
    this.dialog = useService("dialog");
    this.state = useState({ reading: false, text: "", error: "" });
    onWillUnmount(() => {
      this.gone = true;
    });
  }

  get protocol(): string {
    const value = this.props.record.data.protocol;
    return typeof value === "string" ? value : "";
  }
  get isOpcua(): boolean {
    return this.protocol === "opcua";
  }
  get isPlc(): boolean {
    return PLC_PROTOCOLS.includes(this.protocol);
  }
  get connectionId(): number | false {
    return many2oneId(this.props.record.data.connection_id);
  }
  get connectionName(): string {
    const value = this.props.record.data.connection_id as { display_name?: string } | [number, string] | false;
    if (Array.isArray(value)) return value[1];
    return (value || undefined)?.display_name || "";
  }
  get address(): string {
    const value = this.props.record.data.address;
    return typeof value === "string" ? value.trim() : "";
  }

  openPicker(): void {
    const connectionId = this.connectionId;
    if (!connectionId) {
      this.state.error = _t("Choose the rule's connection first.");
      return;
    }
    this.state.error = "";
    this.dialog.add(TagPicker, {
      connectionId,
      connectionName: this.connectionName,
      current: this.address,
      onPick: (info: NodeInfo, save: boolean) => this.usePicked(info, save),
    });
  }

  async usePicked(info: NodeInfo, save: boolean): Promise<void> {
    await this.props.record.update({ address: info.node_id, protocol: "opcua" });
    if (save && !(await this.props.record.save())) {
      // The form shows which fields it still needs (source, event type…); the address is filled.
      throw new Error(
        _t("The address is filled in; the rule could not be saved yet: complete the fields marked in red."),
      );
    }
  }

  async readOnce(): Promise<void> {
    const connectionId = this.connectionId;
    this.state.text = "";
    this.state.error = "";
    if (!connectionId || !this.address) {
      this.state.error = _t("Choose the rule's connection and type an address first.");
      return;
    }
    this.state.reading = true;
    const outcome = await askProbe<PlcReadAnswer>(this.orm, connectionId, "read", this.address, {
      isCancelled: () => this.gone,
    });
    if (this.gone) return;
    this.state.reading = false;
    if (outcome.ok) {
      const read = outcome.result;
      this.state.text = _t("%(address)s = %(value)s (%(type)s)", {
        address: read.address,
        value: valueText(read.value),
        type: displayValue(read.data_type),
      });
    } else {
      this.state.error = outcome.error;
    }
  }
}

registry.category("view_widgets").add("shopfloor_tag_probe", {
  component: TagProbe,
  fieldDependencies: [
    { name: "protocol", type: "selection" },
    { name: "connection_id", type: "many2one" },
    { name: "address", type: "char" },
  ],
});
