// What makes a broker URL one the MQTT client reads as written, checked before it connects:
// as odoo_addon/shopfloor_bridge/backbone.py's mqtt_url_error, which refuses the same when saved.
import { isIPv6 } from "node:net";

/** The schemes MQTT.js speaks from Node: MQTT over TCP (plain or TLS) and over WebSocket. */
const SCHEMES = new Set(["mqtt", "mqtts", "tcp", "ssl", "tls", "ws", "wss"]);
const WEBSOCKET = new Set(["ws", "wss"]);
/** scheme://authority/path?query#fragment, as RFC 3986 splits it. */
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s;
const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?$/;

/** The message a source stops with for a broker URL `mqttUrlProblem` refuses. */
export function mqttUrlRefusal(url: string, problem: string): string {
  return `the MQTT broker URL ${JSON.stringify(url)}: ${problem}: set Broker URL on the connection in Odoo (or MQTT_URL)`;
}

/**
 * Why `url` is not a broker URL MQTT.js reads as written (undefined when it is): a scheme it
 * speaks, a host, a port from 1 to 65535, and nothing it would drop or read otherwise than
 * meant: no path or ?query on MQTT over TCP (it ignores the one and reads ?clientId= over
 * the connection's client id), no ?clientId= over WebSocket either, no #fragment, no space.
 * A user and password in the URL are read (the connection's fields win).
 */
export function mqttUrlProblem(url: string): string | undefined {
  if (/\s/.test(url)) return "a URL holds no spaces";
  const parts = URL_PARTS.exec(url);
  if (!parts) return "it is not scheme://host:port (e.g. mqtt://broker:1883, mqtts://broker:8883)";
  const [, rawScheme, authority, path, query, fragment] = parts as unknown as [
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const scheme = rawScheme.toLowerCase();
  if (!SCHEMES.has(scheme)) {
    return `${scheme}:// is no MQTT scheme (mqtt://, mqtts://, tcp://, ssl://, tls://, ws://, wss://)`;
  }
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  const problem = hostPortProblem(hostPort);
  if (problem) return problem;
  if (fragment !== undefined) return "a broker URL has no #fragment";
  if (WEBSOCKET.has(scheme)) {
    if (query?.split("&").some((pair) => pair.split("=")[0] === "clientId")) {
      return "?clientId= would replace the connection's MQTT client id: set it there";
    }
    return undefined;
  }
  if (path !== "" && path !== "/") {
    return `MQTT over TCP has no path (${path} would be ignored); over WebSocket it has: ws://host:8080/mqtt`;
  }
  if (query !== undefined) {
    return "MQTT over TCP has no ?query (the client would read ?clientId= over the connection's MQTT client id)";
  }
  return undefined;
}

function hostPortProblem(text: string): string | undefined {
  let host = text;
  let port: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return `${JSON.stringify(text)} is not a host name or IP address`;
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return `${JSON.stringify(text)} is not host:port`;
    if (rest !== "") port = rest.slice(1);
    if (!isIPv6(host.slice(1, -1))) return `${host} is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0) {
      host = text.slice(0, colon);
      port = text.slice(colon + 1);
    }
    if (host === "") return "a host is missing";
    if (!HOST_NAME.test(host) || host.length > 253) return `${JSON.stringify(host)} is not a host name or IP address`;
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535)) {
    return `${JSON.stringify(port)} is not a port (1 to 65535)`;
  }
  return undefined;
}
