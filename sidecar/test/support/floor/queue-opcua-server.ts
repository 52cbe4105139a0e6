// A real node-opcua server with the queue tags of one line, shaped like
// Ignition's (`ns=2;s=[default]Shopfloor/<line>/Queue/<n>/<Field>`), for the
// floor-writer tests and the dispatch benchmark. One slot field can be made
// read-only for the user (BadUserAccessDenied) to test rejected writes.
import { DataType, OPCUAServer, type UAVariable } from "node-opcua";
import { freePort } from "../../../devstack/odoo.ts";
import { SLOT_FIELDS, SLOT_TAG_NAMES, type SlotField } from "../../../src/floor/queue.ts";

const FIELD_TYPES: Record<SlotField, DataType> = {
  order: DataType.String,
  product: DataType.String,
  qty: DataType.Double,
  priority: DataType.Int32,
  start: DataType.DateTime,
};

/** What an Ignition tag holds before anyone wrote it. */
const INITIAL: Partial<Record<DataType, unknown>> = {
  [DataType.String]: "",
  [DataType.Double]: 0,
  [DataType.Int32]: 0,
  [DataType.DateTime]: new Date(Date.UTC(1601, 0, 1)),
};

export interface QueueOpcuaServer {
  endpoint: string;
  port: number;
  line: string;
  depth: number;
  /** Node id of a slot field, queue JSON or version tag. */
  nodeId(slot: number | "json" | "version", field?: SlotField): string;
  /** The target params a dispatch target of this line carries. */
  targetParams(): Record<string, unknown>;
  /** Current value of a node, straight from the address space. */
  value(nodeId: string): unknown;
  /** Every change of a node's value, with the time it happened. */
  changes(nodeId: string): { at: number; value: unknown }[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface QueueOpcuaServerOptions {
  line?: string;
  depth?: number;
  port?: number;
  /** Slot fields the (anonymous) user may read but not write, as "slot/field" e.g. "1/priority". */
  readOnly?: string[];
}

export async function startQueueOpcuaServer(options: QueueOpcuaServerOptions = {}): Promise<QueueOpcuaServer> {
  const line = options.line ?? "Line1";
  const depth = options.depth ?? 3;
  const port = options.port ?? (await freePort());
  const prefix = `[default]Shopfloor/${line}/Queue`;
  const nodeId = (slot: number | "json" | "version", field?: SlotField) => {
    if (slot === "json") return `ns=2;s=${prefix}Json`;
    if (slot === "version") return `ns=2;s=${prefix}/Version`;
    return `ns=2;s=${prefix}/${slot}/${SLOT_TAG_NAMES[field ?? "order"]}`;
  };
  const variables = new Map<string, UAVariable>();
  /** Last value per node, kept across a stop/start like a PLC's retained memory. */
  const retained = new Map<string, { dataType: DataType; value: unknown }>();
  const history = new Map<string, { at: number; value: unknown }[]>();
  let server: OPCUAServer | undefined;

  const build = async () => {
    const srv = new OPCUAServer({ port, hostname: "127.0.0.1", buildInfo: { productName: "sfb-queue-test" } });
    await srv.initialize();
    const addressSpace = srv.engine.addressSpace;
    if (!addressSpace) throw new Error("node-opcua server has no address space");
    const namespace = addressSpace.registerNamespace("urn:sfb:queue-test");
    if (namespace.index !== 2) throw new Error(`queue namespace got index ${namespace.index}, expected 2`);
    const folder = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: "Shopfloor" });
    const add = (id: string, browseName: string, dataType: DataType, readOnly: boolean) => {
      const variable = namespace.addVariable({
        componentOf: folder,
        nodeId: id,
        browseName,
        dataType,
        accessLevel: "CurrentRead | CurrentWrite",
        userAccessLevel: readOnly ? "CurrentRead" : "CurrentRead | CurrentWrite",
      });
      variable.setValueFromSource(retained.get(id) ?? { dataType, value: INITIAL[dataType] });
      variable.on("value_changed", (dataValue) => {
        retained.set(id, { dataType, value: dataValue.value.value });
        const list = history.get(id) ?? [];
        list.push({ at: Date.now(), value: dataValue.value.value });
        history.set(id, list);
      });
      variables.set(id, variable);
    };
    for (let slot = 0; slot < depth; slot++) {
      for (const field of SLOT_FIELDS) {
        add(
          nodeId(slot, field),
          `${slot}_${field}`,
          FIELD_TYPES[field],
          options.readOnly?.includes(`${slot}/${field}`) ?? false,
        );
      }
    }
    add(nodeId("json"), "QueueJson", DataType.String, false);
    add(nodeId("version"), "Version", DataType.Int32, false);
    await srv.start();
    server = srv;
  };

  const handle: QueueOpcuaServer = {
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    port,
    line,
    depth,
    nodeId,
    targetParams: () => ({
      endpoint: `opc.tcp://127.0.0.1:${port}`,
      slots: Array.from({ length: depth }, (_, slot) =>
        Object.fromEntries(SLOT_FIELDS.map((field) => [field, nodeId(slot, field)])),
      ),
      queue_json: nodeId("json"),
      version: nodeId("version"),
    }),
    value: (id) => retained.get(id)?.value,
    changes: (id) => history.get(id) ?? [],
    // A stopped server keeps its values in memory: restarting serves them again, like a PLC after a reboot.
    start: build,
    stop: async () => {
      const srv = server;
      server = undefined;
      await srv?.shutdown(0);
    },
  };
  await build();
  return handle;
}
