// What one MQTT message becomes. The CloudEvents MQTT binding's binary mode
// (MQTT 5 only): the attributes are user properties named as the attributes
// (`specversion`, `id`, …, no prefix), the Content Type property is the
// datacontenttype and the payload is `data`; the event's JSON text is built
// from them with the HTTP intake's reader, the payload spliced in as it came.
// Everything else (structured mode, a plain JSON event, a payload for the
// connection's mqtt payload mappings) goes on as the bytes that came.
import type { IPublishPacket } from "mqtt";
import type { Intake, IntakeVia } from "../core/ports.ts";
import { type BinaryBinding, binaryEvent } from "./http/binding.ts";

const VIA_MQTT: IntakeVia = Object.freeze({ transport: "mqtt" });
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

/**
 * How a message came: by MQTT, with its MQTT 5 user properties as headers
 * (a name sent more than once: its values joined by ", ", as HTTP does).
 */
export function viaOf(packet: Pick<IPublishPacket, "properties">): IntakeVia {
  const properties = packet.properties?.userProperties;
  if (!properties) return VIA_MQTT;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties)) {
    headers[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return { transport: "mqtt", headers };
}

export const MQTT_BINARY: BinaryBinding<string | string[]> = {
  prefix: "",
  decode: (raw) => {
    if (Array.isArray(raw)) throw new Error("sent more than once");
    return raw;
  },
  where: (name) => `user property ${name}`,
  contentType: "the Content Type property",
};

/** The intake one MQTT message is. */
export function mqttIntake(packet: Pick<IPublishPacket, "properties" | "payload" | "topic">, receivedAt: Date): Intake {
  const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
  const origin = packet.topic;
  const via = viaOf(packet);
  const properties = packet.properties?.userProperties;
  const contentType = packet.properties?.contentType;
  const structured = contentType?.trim().toLowerCase().startsWith("application/cloudevents") ?? false;
  if (!properties || !Object.hasOwn(properties, "specversion") || structured) {
    return { kind: "raw", payload, origin, receivedAt, via };
  }
  // Binary mode. User properties that cannot be attribute names are the
  // message's other headers (payload mappings still see them in `via`).
  const attributes: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (ATTRIBUTE_NAME.test(name)) attributes[name] = value;
  }
  if (contentType !== undefined) attributes["content-type"] = contentType;
  const item = binaryEvent(attributes, payload, MQTT_BINARY);
  if (item.problem) return { kind: "rejected", payload: item.payload, origin, receivedAt, reason: item.problem.reason };
  return { kind: "raw", payload: item.payload, origin, receivedAt, via };
}
