// An in-process MQTT broker (aedes) on loopback: the demo's default broker
// and the fast one in integration tests (Mosquitto is the other).
import { createServer } from "node:net";
import { Aedes } from "aedes";
import { freePort } from "./odoo.ts";

export interface AedesBroker {
  url: string;
  port: number;
  broker: Aedes;
  close(): Promise<void>;
}

export async function startAedes(port?: number): Promise<AedesBroker> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => resolve());
  });
  return {
    url: `mqtt://127.0.0.1:${listenPort}`,
    port: listenPort,
    broker,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
