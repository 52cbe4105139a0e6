// A load generator in its own process for sidecar/bench/protocols.bench.ts, so
// the benchmark's CPU figure is the sidecar side only. Driven over IPC:
//   {cmd:"opcua", port, machines}      → serves the line, replies {ready, endpoint}
//   {cmd:"sparkplug", url, group, machines} → births the edge node, replies {ready}
//   {cmd:"run", ms}                    → changes tags as fast as it can for `ms`, replies {done, changes, messages}
//   {cmd:"stop"}                       → shuts down, exits
import mqtt, { type MqttClient } from "mqtt";
import { type EncodableMetric, encodeSparkplug } from "../src/sources/sparkplug/payload.ts";
import { Line, TAG_NAMES, TAG_TYPES } from "./line.ts";
import { SimOpcuaServer } from "./opcua-server.ts";

type Command =
  | { cmd: "opcua"; port: number; machines: number; pkiDir: string }
  | { cmd: "sparkplug"; url: string; group: string; machines: number }
  | { cmd: "run"; ms: number; rate?: number }
  | { cmd: "stop" };

const send = (msg: Record<string, unknown>) => process.send?.(msg);
const machineNames = (n: number) => Array.from({ length: n }, (_, i) => `M${String(i + 1).padStart(2, "0")}`);

let server: SimOpcuaServer | undefined;
let line: Line | undefined;
let spb: { client: MqttClient; group: string; seq: number; values: number[] } | undefined;

/** Offers `rate` changes/s spread over 10 ms ticks, round-robin over the machines. */
async function runOpcua(ms: number, rate: number): Promise<void> {
  const l = line as Line;
  const start = Date.now();
  let changes = 0;
  let next = 0;
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    for (; changes < due; changes++) {
      const m = l.machines[next++ % l.machines.length] as string;
      l.set(m, "GoodCount", l.tags(m).GoodCount + 1);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  send({ done: true, changes, messages: 0 });
}

async function runSparkplug(ms: number): Promise<void> {
  const s = spb as NonNullable<typeof spb>;
  const end = Date.now() + ms;
  let messages = 0;
  let metrics = 0;
  const machines = s.values.length;
  while (Date.now() < end) {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const m = messages % machines;
      s.values[m] = (s.values[m] ?? 0) + 1;
      s.seq = (s.seq + 1) % 256;
      const now = Date.now();
      // A DDATA as Ignition batches it: every tag of the device, by alias.
      const payload: EncodableMetric[] = TAG_NAMES.map((tag, t) => ({
        alias: m * 100 + t + 1,
        type: TAG_TYPES[tag],
        value:
          tag === "GoodCount"
            ? s.values[m]
            : tag === "State"
              ? 1
              : TAG_TYPES[tag] === "Boolean"
                ? false
                : TAG_TYPES[tag] === "String"
                  ? tag === "CurrentOrder"
                    ? "MO-B"
                    : ""
                  : 0,
        timestamp: now,
      }));
      sends.push(
        s.client.publishAsync(
          `spBv1.0/${s.group}/DDATA/Line1/${machineNames(machines)[m]}`,
          Buffer.from(encodeSparkplug({ timestamp: now, seq: s.seq, metrics: payload })),
          { qos: 0 },
        ),
      );
      messages++;
      metrics += payload.length;
    }
    await Promise.all(sends);
  }
  send({ done: true, changes: metrics, messages });
}

async function birthSparkplug(url: string, group: string, machines: number): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `bench-edge-${process.pid}`, clean: true });
  const now = Date.now();
  await client.publishAsync(
    `spBv1.0/${group}/NBIRTH/Line1`,
    Buffer.from(encodeSparkplug({ timestamp: now, seq: 0, metrics: [{ name: "bdSeq", type: "UInt64", value: 0 }] })),
    { qos: 0 },
  );
  let seq = 0;
  const names = machineNames(machines);
  for (let m = 0; m < machines; m++) {
    seq++;
    const metrics: EncodableMetric[] = TAG_NAMES.map((tag, t) => ({
      name: tag,
      alias: m * 100 + t + 1,
      type: TAG_TYPES[tag],
      value:
        tag === "CurrentOrder"
          ? "MO-B"
          : tag === "State"
            ? 1
            : TAG_TYPES[tag] === "Boolean"
              ? false
              : TAG_TYPES[tag] === "String"
                ? ""
                : 0,
      timestamp: now,
    }));
    await client.publishAsync(
      `spBv1.0/${group}/DBIRTH/Line1/${names[m]}`,
      Buffer.from(encodeSparkplug({ timestamp: now, seq, metrics })),
      { qos: 0 },
    );
  }
  spb = { client, group, seq, values: names.map(() => 0) };
}

process.on("message", (msg: Command) => {
  void (async () => {
    try {
      if (msg.cmd === "opcua") {
        line = new Line("Line1", machineNames(msg.machines));
        server = new SimOpcuaServer({ line, port: msg.port, pkiDir: msg.pkiDir });
        await server.start();
        send({ ready: true, endpoint: server.endpoint });
      } else if (msg.cmd === "sparkplug") {
        await birthSparkplug(msg.url, msg.group, msg.machines);
        send({ ready: true });
      } else if (msg.cmd === "run") {
        if (server) await runOpcua(msg.ms, msg.rate ?? 1000);
        else await runSparkplug(msg.ms);
      } else if (msg.cmd === "stop") {
        await server?.stop();
        await spb?.client.endAsync();
        send({ stopped: true });
        process.exit(0);
      }
    } catch (err) {
      send({ error: (err as Error).stack ?? String(err) });
    }
  })();
});
send({ hello: true });
