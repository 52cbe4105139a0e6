// TLS to Redis from the connection's backbone fields (backbone_tls or a
// rediss:// URL, backbone_ca, backbone_reject_unauthorized,
// backbone_client_cert, backbone_client_key), read with the same PEM reader
// as the MQTT client's TLS (core/pem.ts), each error naming the field to fix.
import type { ConnectionOptions } from "node:tls";
import type { BackboneConfig } from "../../core/contract.ts";
import { describeMqttTlsFailure, type MqttTlsField } from "../../core/mqtt-tls.ts";
import { normalizePem, type PemError, pemCertificates, pemPrivateKey } from "../../core/pem.ts";
import { BackboneConfigError, type BackboneField } from "../backbone-errors.ts";

export type BackboneTlsSettings = Partial<
  Pick<BackboneConfig, "tls" | "ca" | "reject_unauthorized" | "client_cert" | "client_key">
>;

const fail: PemError<BackboneField> = (field, message, cause) =>
  new BackboneConfigError(field, message, cause === undefined ? undefined : { cause });

/** Whether the connection asks for TLS: backbone_tls, or a rediss://, rediss+cluster:// or rediss+sentinel:// URL. */
export function wantsTls(url: string, settings: BackboneTlsSettings | undefined): boolean {
  return settings?.tls === true || /^rediss(\+cluster|\+sentinel)?:/i.test(url.trim());
}

/**
 * Node TLS options for the connection, or undefined for plain TCP. Throws a
 * BackboneConfigError for certificates set on a plain connection, a
 * certificate without its key (or the reverse), PEM that does not parse, or
 * a key that does not belong to its certificate.
 */
export function redisTlsOptions(url: string, settings: BackboneTlsSettings | undefined): ConnectionOptions | undefined {
  const ca = normalizePem(settings?.ca);
  const cert = normalizePem(settings?.client_cert);
  const key = normalizePem(settings?.client_key);
  if (!wantsTls(url, settings)) {
    const configured = [ca && "backbone_ca", cert && "backbone_client_cert", key && "backbone_client_key"].filter(
      Boolean,
    );
    if (configured.length > 0) {
      throw new BackboneConfigError(
        "backbone_tls",
        `backbone_url ${url} is plain TCP but ${configured.join(", ")} set: turn on backbone_tls ` +
          `(or use rediss://), or clear ${configured.join(", ")}`,
      );
    }
    return undefined;
  }
  const options: ConnectionOptions = { rejectUnauthorized: settings?.reject_unauthorized !== false };
  if (cert && !key) {
    throw new BackboneConfigError(
      "backbone_client_key",
      "backbone_client_cert is set but backbone_client_key is empty",
    );
  }
  if (key && !cert) {
    throw new BackboneConfigError(
      "backbone_client_cert",
      "backbone_client_key is set but backbone_client_cert is empty",
    );
  }
  if (ca) {
    options.ca = pemCertificates(ca, "backbone_ca", "it holds a private key; paste the CA's certificate", fail).map(
      (c) => c.pem,
    );
  }
  if (cert && key) {
    const leaf = pemCertificates(cert, "backbone_client_cert", "it belongs in backbone_client_key", fail)[0]?.parsed;
    const privateKey = pemPrivateKey(key, "backbone_client_key", "backbone_client_cert", fail);
    if (leaf && !leaf.checkPrivateKey(privateKey)) {
      throw new BackboneConfigError(
        "backbone_client_key",
        "backbone_client_key does not belong to backbone_client_cert",
      );
    }
    options.cert = cert;
    options.key = key;
  }
  return options;
}

const FIELD_OF: Record<MqttTlsField, BackboneField> = {
  mqtt_ca: "backbone_ca",
  mqtt_client_cert: "backbone_client_cert",
  mqtt_client_key: "backbone_client_key",
  mqtt_reject_unauthorized: "backbone_reject_unauthorized",
  mqtt_url: "backbone_url",
};

/**
 * A TLS handshake the settings made fail (untrusted server, wrong host name,
 * refused client certificate), as the error naming the backbone field to
 * fix; undefined for other errors. The handshake is read as the MQTT client's
 * is (core/mqtt-tls.ts); only the field names differ.
 */
export function describeRedisTlsFailure(
  err: Error,
  url: string,
  settings: BackboneTlsSettings | undefined,
): BackboneConfigError | undefined {
  const described = describeMqttTlsFailure(err, url, settings);
  if (!described) return undefined;
  const message = described.message.replace(
    /\bmqtt_(ca|client_cert|client_key|reject_unauthorized|url)\b/g,
    (_, name: string) => `backbone_${name}`,
  );
  return new BackboneConfigError(FIELD_OF[described.field], message, { cause: err });
}
