// Why a Kafka connection cannot work, named by the Odoo connection field an
// admin fixes (read by `asConfigError` in main.ts, as MqttTlsError is).
import { BROKER_NOT_TRUSTED } from "../../core/mqtt-tls.ts";
import { normalizePem, type PemError, pemCertificates, pemPrivateKey } from "../../core/pem.ts";
import { answersPlain, answersTls, KAFKA_HELLO, kafkaUnderstood } from "../../core/port-probe.ts";
import { BackboneConfigError, type BackboneField } from "../backbone-errors.ts";

export { BackboneConfigError, type BackboneField };

const fail: PemError<BackboneField> = (field, message, cause) =>
  new BackboneConfigError(field, message, cause === undefined ? undefined : { cause });

export interface KafkaTlsSettings {
  ca: string;
  reject_unauthorized: boolean;
  client_cert: string;
  client_key: string;
}

/** node:tls options for the broker connections, from the connection's PEM fields (core/pem.ts reads them). */
export function kafkaTlsOptions(settings: KafkaTlsSettings): {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
} {
  const ca = normalizePem(settings.ca);
  const cert = normalizePem(settings.client_cert);
  const key = normalizePem(settings.client_key);
  const options: { rejectUnauthorized: boolean; ca?: string[]; cert?: string; key?: string } = {
    rejectUnauthorized: settings.reject_unauthorized !== false,
  };
  if (cert && !key) {
    throw fail(
      "backbone_client_key",
      "backbone_client_cert is set but backbone_client_key is empty: a client certificate needs its private key",
    );
  }
  if (key && !cert) {
    throw fail(
      "backbone_client_cert",
      "backbone_client_key is set but backbone_client_cert is empty: the key needs its certificate",
    );
  }
  if (ca) {
    options.ca = pemCertificates(
      ca,
      "backbone_ca",
      "it holds a private key; paste the CA's certificate instead",
      fail,
    ).map((c) => c.pem);
  }
  if (cert && key) {
    const leaf = pemCertificates(
      cert,
      "backbone_client_cert",
      "it holds a private key, which belongs in backbone_client_key",
      fail,
    )[0]?.parsed;
    const privateKey = pemPrivateKey(key, "backbone_client_key", "backbone_client_cert", fail);
    if (leaf && !leaf.checkPrivateKey(privateKey)) {
      throw fail(
        "backbone_client_key",
        "backbone_client_key does not belong to backbone_client_cert: paste the key the certificate was issued for",
      );
    }
    options.cert = cert;
    options.key = key;
  }
  return options;
}

/** The client's error when a broker answered its first plain request with a TLS record. */
export const TLS_ANSWER = "Broker requires TLS.";
/** Node's message when the peer closed the connection during the TLS handshake. */
const CLOSED_BEFORE_TLS = "before secure TLS connection was established";
const TLS_OFF_BUT_TLS_LISTENER =
  "answered with TLS but backbone_tls is off: turn backbone_tls on (the listener is SSL or SASL_SSL)";

/** Every error inside `err` (the client wraps the socket's in MultipleErrors and `cause`). */
function* causes(err: unknown, depth = 0): Generator<Error> {
  if (!(err instanceof Error) || depth > 6) return;
  yield err;
  const nested = (err as { errors?: unknown[] }).errors;
  if (Array.isArray(nested)) for (const e of nested) yield* causes(e, depth + 1);
  yield* causes((err as { cause?: unknown }).cause, depth + 1);
}

/**
 * The connection field to fix for a failure to reach or join the cluster, as
 * a BackboneConfigError; the error itself when it names no setting (a broker down).
 */
export function describeKafkaFailure(
  err: unknown,
  url: string,
  topics: string[],
  tlsSettings: KafkaTlsSettings | undefined,
): unknown {
  const tls = tlsSettings !== undefined;
  if (err instanceof BackboneConfigError) return err;
  const all = [...causes(err)];
  const text = all.map((e) => e.message).join(" / ");
  const codes = all.map((e) => String((e as { code?: unknown }).code ?? ""));
  const apiIds = all.map((e) => String((e as { apiId?: unknown }).apiId ?? ""));
  const has = (set: (c: string) => boolean) => codes.some(set) || apiIds.some(set);
  const detail = `(${text})`;
  if (has((c) => c === "SASL_AUTHENTICATION_FAILED") || all.some((e) => e.name === "AuthenticationError")) {
    return new BackboneConfigError(
      "backbone_password",
      `Kafka at ${url} refused the credentials of backbone_username with backbone_sasl_mechanism: check the user, its password and the mechanism the listener takes ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "UNSUPPORTED_SASL_MECHANISM" || c === "ILLEGAL_SASL_STATE")) {
    return new BackboneConfigError(
      "backbone_sasl_mechanism",
      `Kafka at ${url} does not take SASL mechanism of backbone_sasl_mechanism on this listener ${detail}`,
      { cause: err },
    );
  }
  if (!tls && all.some((e) => e.message === TLS_ANSWER)) {
    return new BackboneConfigError("backbone_tls", `Kafka at ${url} ${TLS_OFF_BUT_TLS_LISTENER} ${detail}`, {
      cause: err,
    });
  }
  if (!tls && has((c) => c === "PLT_KFK_AUTHENTICATION") && all.some((e) => e.message === "Connection closed")) {
    // SASL without TLS: a SASL_SSL listener closes the connection at the handshake's first plain bytes
    // (a mechanism it does not take is answered, with UNSUPPORTED_SASL_MECHANISM, above).
    return new BackboneConfigError(
      "backbone_tls",
      `Kafka at ${url} closed the connection in the SASL handshake; if its listener is SASL_SSL, turn backbone_tls on; ` +
        `retrying with backoff ${detail}`,
      { cause: err, transient: true },
    );
  }
  if (tls && all.some((e) => e.message.includes(CLOSED_BEFORE_TLS))) {
    // A plain listener reads the TLS hello as an oversized request and closes the connection.
    return new BackboneConfigError(
      "backbone_tls",
      `Kafka at ${url} closed the connection before TLS was set up; if its listener is PLAINTEXT or SASL_PLAINTEXT, ` +
        `turn backbone_tls off (or name the port of its SSL or SASL_SSL listener in backbone_url); retrying with backoff ${detail}`,
      { cause: err, transient: true },
    );
  }
  if (has((c) => BROKER_NOT_TRUSTED.has(c))) {
    return new BackboneConfigError(
      "backbone_ca",
      `TLS to Kafka at ${url} failed: the broker's certificate is not signed by the CA in backbone_ca (or the system store when it is empty) ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "ERR_TLS_CERT_ALTNAME_INVALID")) {
    return new BackboneConfigError(
      "backbone_url",
      `TLS to Kafka at ${url} failed: the broker's certificate does not name the host of backbone_url ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c.startsWith("ERR_SSL") || c === "EPROTO")) {
    return new BackboneConfigError(
      tls ? "backbone_client_cert" : "backbone_tls",
      tls
        ? `TLS to Kafka at ${url} failed in the handshake: check backbone_client_cert / backbone_client_key and the listener's TLS settings ${detail}`
        : `Kafka at ${url} ${TLS_OFF_BUT_TLS_LISTENER} ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "UNKNOWN_TOPIC_OR_PARTITION" || c === "UNKNOWN_TOPIC_ID")) {
    return new BackboneConfigError(
      "backbone_names",
      `Kafka at ${url} has no topic ${topics.join(", ")} (backbone_names): create it with as many partitions as the sidecars of the group should share ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "TOPIC_AUTHORIZATION_FAILED")) {
    return new BackboneConfigError(
      "backbone_names",
      `Kafka at ${url}: the user may not read topic ${topics.join(", ")} (backbone_names): grant the user Read on it ` +
        `(kafka-acls --add --allow-principal User:<name> --operation Read --topic <topic>) ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "GROUP_AUTHORIZATION_FAILED" || c === "INVALID_GROUP_ID")) {
    return new BackboneConfigError(
      "backbone_group",
      `Kafka at ${url} refused consumer group backbone_group: with ACLs on, grant the user Read on the group ` +
        `(kafka-acls --add --allow-principal User:<name> --operation Read --group <group>) ${detail}`,
      {
        cause: err,
      },
    );
  }
  if (has((c) => c === "ENOTFOUND")) {
    return new BackboneConfigError(
      "backbone_url",
      `Kafka at ${url}: a host of backbone_url has no address (bootstrap brokers are host:port, comma-separated) ${detail}`,
      { cause: err },
    );
  }
  if (has((c) => c === "EAI_AGAIN" || c === "ECONNREFUSED" || c === "EHOSTUNREACH" || c === "ETIMEDOUT")) {
    return new BackboneConfigError(
      "backbone_url",
      `cannot reach Kafka at ${url} (backbone_url); retrying with backoff ${detail}`,
      { cause: err, transient: true },
    );
  }
  if (tls && !normalizePem(tlsSettings.client_cert) && has((c) => c === "PLT_KFK_NETWORK")) {
    // TLS 1.3: a broker that requires a client certificate closes the connection without an alert Node reports.
    return new BackboneConfigError(
      "backbone_client_cert",
      `Kafka at ${url} closed the TLS connection; if its listener requires a client certificate (ssl.client.auth=required), ` +
        `set backbone_client_cert and backbone_client_key; retrying with backoff ${detail}`,
      { cause: err, transient: true },
    );
  }
  return err;
}

/**
 * A `backbone_tls` hint given while retrying (the broker closed the connection in a
 * handshake, as a broker going down does too), made certain when the first bootstrap
 * broker is asked what it speaks: plain Kafka when TLS is on, TLS when it is off.
 * Certain, it stops the start like any setting to fix; anything else is returned as is.
 */
export async function confirmListenerMixup(
  described: unknown,
  broker: { host: string; port: number } | undefined,
  tlsOn: boolean,
): Promise<unknown> {
  if (!(described instanceof BackboneConfigError && described.field === "backbone_tls" && described.transient)) {
    return described;
  }
  if (!broker) return described;
  const { host, port } = broker;
  const mixup = tlsOn ? await answersPlain(host, port, KAFKA_HELLO, kafkaUnderstood) : await answersTls(host, port);
  if (!mixup) return described;
  return new BackboneConfigError(
    "backbone_tls",
    tlsOn
      ? `Kafka at ${host}:${port} speaks plain Kafka, without TLS (a PLAINTEXT or SASL_PLAINTEXT listener), and backbone_tls is on: ` +
          "turn backbone_tls off, or name the port of its SSL or SASL_SSL listener in backbone_url"
      : `Kafka at ${host}:${port} speaks TLS (an SSL or SASL_SSL listener), and backbone_tls is off: turn backbone_tls on`,
    { cause: described.cause },
  );
}
