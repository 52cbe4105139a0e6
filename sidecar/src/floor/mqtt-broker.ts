// What the MQTT and Sparkplug floor writers share about reaching a broker:
// the connection's TLS settings as client options, and waiting for the
// connection. Both turn a TLS problem into a FloorWriteError whose message
// (shown on the dispatch message in Odoo) names the connection field to fix.
import type { MqttClient } from "mqtt";
import {
  describeMqttTlsFailure,
  type MqttTlsClientOptions,
  MqttTlsError,
  type MqttTlsSettings,
  mqttPortMixup,
  mqttTlsOptions,
} from "../core/mqtt-tls.ts";
import { FloorWriteError } from "./errors.ts";

/**
 * TLS options for a floor broker; settings that cannot work fail the write
 * for a person (retrying the same settings cannot succeed).
 */
export function floorTlsOptions(
  protocol: "MQTT" | "Sparkplug",
  url: string,
  tls: MqttTlsSettings | undefined,
  urlField: string,
): MqttTlsClientOptions {
  try {
    return mqttTlsOptions(url, tls, urlField);
  } catch (err) {
    if (!(err instanceof MqttTlsError)) throw err;
    throw new FloorWriteError(`${protocol} ${url}: ${err.message}`, { retryable: false, cause: err });
  }
}

/**
 * Resolves once `client` is connected. A TLS handshake the broker or the
 * sidecar refused fails at once with the field to fix; it stays retryable,
 * as the broker's side (its CA, its certificate) may be put right without
 * any change here. Anything else fails after `timeoutMs` with the last error.
 */
export async function waitForFloorBroker(
  protocol: "MQTT" | "Sparkplug",
  client: MqttClient,
  url: string,
  tls: MqttTlsSettings | undefined,
  timeoutMs = 5_000,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const finish = (err?: FloorWriteError) => {
      clearTimeout(timer);
      client.off("connect", onConnect);
      client.off("error", onError);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = () => finish();
    let probed = false;
    const onError = (err: Error) => {
      const tlsFailure = describeMqttTlsFailure(err, url, tls);
      if (tlsFailure) {
        finish(new FloorWriteError(`${protocol} ${url}: ${tlsFailure.message}`, { retryable: true, cause: err }));
        return;
      }
      lastError = err;
      // A reset may be a TLS / plain mix-up: the port is asked once what it speaks. A mix-up is
      // a setting to fix, not retried.
      if (probed) return;
      probed = true;
      void mqttPortMixup(url, err).then((mixup) => {
        if (mixup)
          finish(new FloorWriteError(`${protocol} ${url}: ${mixup.message}`, { retryable: false, cause: err }));
      });
    };
    const timer = setTimeout(() => {
      const why = lastError ? ` (last error: ${lastError.message})` : "";
      finish(
        new FloorWriteError(`${protocol} ${url}: broker not reachable within ${timeoutMs} ms${why}`, {
          retryable: true,
        }),
      );
    }, timeoutMs);
    client.on("connect", onConnect);
    client.on("error", onError);
  });
}
