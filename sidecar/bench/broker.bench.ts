// Mosquitto's own rate, with its own clients: the ceiling every MQTT figure
// of the sidecar is read against (the "Mosquitto's own rate" baseline).
import { spawn } from "node:child_process";
import { startMosquitto } from "../devstack/mosquitto.ts";
import type { Benchmark, Figure } from "./harness.ts";

interface BrokerRun {
  received: number;
  /** Messages per second from the first publish to the last message received. */
  rate: number;
}

/** mosquitto_pub -l sends one message per stdin line; mosquitto_sub prints one line per message. */
async function brokerRate(url: string, count: number, qos: 0 | 1, progress: (n: number) => void): Promise<BrokerRun> {
  const { hostname, port } = new URL(url);
  const sub = spawn("mosquitto_sub", ["-h", hostname, "-p", port, "-t", "bench/own", "-q", String(qos)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let received = 0;
  let lastAt = process.hrtime.bigint();
  sub.stdout.on("data", (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) received++;
    lastAt = process.hrtime.bigint();
    progress(received);
  });
  await new Promise((r) => setTimeout(r, 300)); // let the subscription land
  const started = process.hrtime.bigint();
  const pub = spawn("mosquitto_pub", ["-h", hostname, "-p", port, "-t", "bench/own", "-q", String(qos), "-l"], {
    stdio: ["pipe", "ignore", "inherit"],
  });
  const pubDone = new Promise<void>((r) => pub.on("exit", () => r()));
  // A CloudEvent-sized payload (~300 bytes), like the sidecar benchmarks send.
  const line = `${JSON.stringify({ specversion: "1.0", id: "x".repeat(26), source: "plant1/line1/press-01", type: "production.reported", time: new Date().toISOString(), data: { order: "WH/MO/00001", qty_good: 1, pad: "p".repeat(120) } })}\n`;
  const chunk = line.repeat(1000);
  for (let sent = 0; sent < count; sent += 1000) {
    const piece = count - sent >= 1000 ? chunk : line.repeat(count - sent);
    if (!pub.stdin.write(piece)) await new Promise((r) => pub.stdin.once("drain", r));
  }
  // Keep stdin open until delivery ends: at EOF mosquitto_pub disconnects and
  // drops what it has not sent yet. QoS 0 may drop under load, so stop once
  // all arrived or nothing came for 2 s.
  while (received < count && Number(process.hrtime.bigint() - lastAt) / 1e9 < 2) {
    await new Promise((r) => setTimeout(r, 50));
  }
  pub.stdin.end();
  await pubDone;
  sub.kill();
  const seconds = Number(lastAt - started) / 1e9;
  return { received, rate: received / seconds };
}

const bench: Benchmark = {
  name: "broker",
  issue: 9,
  async run(ctx) {
    const count = Math.round(100_000 * ctx.scale);
    const broker = await startMosquitto();
    try {
      const figures: Figure[] = [];
      for (const qos of [1, 0] as const) {
        const run = await brokerRate(broker.url, count, qos, (n) => ctx.progress(`mosquitto QoS ${qos}`, n, count));
        ctx.log(`Mosquitto pub→sub QoS ${qos}: ${Math.round(run.rate)} msg/s, ${run.received}/${count} delivered`);
        figures.push({
          figure: `Mosquitto own rate, mosquitto_pub → mosquitto_sub, QoS ${qos} (${run.received}/${count} delivered)`,
          value: Math.round(run.rate),
          unit: "msg/s",
        });
      }
      return figures;
    } finally {
      await broker.destroy();
    }
  },
};
export default bench;
