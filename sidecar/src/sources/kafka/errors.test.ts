// describeKafkaFailure on error trees shaped as @platformatic/kafka 2.12 builds
// them (MultipleErrors holding errors, each with a code and a cause): the
// listener / TLS mismatches seen against the real broker in kafka.int.test.ts.
import { describe, expect, it } from "vitest";
import { BackboneConfigError, describeKafkaFailure, TLS_ANSWER } from "./errors.ts";

const TLS = { ca: "", reject_unauthorized: true, client_cert: "", client_key: "" };

function coded(message: string, code: string, cause?: Error): Error {
  return Object.assign(new Error(message, cause ? { cause } : undefined), { code });
}

/** "metadata failed 3 times." over three attempts, each "Cannot connect to any broker." around `inner`. */
function afterRetries(inner: () => Error): Error {
  const attempt = () =>
    Object.assign(new AggregateError([coded("Connection to 127.0.0.1:9093 failed.", "PLT_KFK_NETWORK", inner())]), {
      message: "Cannot connect to any broker.",
      code: "PLT_KFK_MULTIPLE",
    });
  return Object.assign(new AggregateError([attempt(), attempt(), attempt()]), {
    message: "metadata failed 3 times.",
    code: "PLT_KFK_MULTIPLE",
  });
}

const described = (err: unknown, tls = false) =>
  describeKafkaFailure(err, "127.0.0.1:9093", ["line1"], tls ? TLS : undefined);

describe("describeKafkaFailure: a listener that speaks TLS, or does not", () => {
  it("names backbone_tls when a plain request was answered with TLS (the client's user error)", () => {
    const err = described(coded(TLS_ANSWER, "PLT_KFK_USER"));
    expect(err).toBeInstanceOf(BackboneConfigError);
    expect((err as BackboneConfigError).field).toBe("backbone_tls");
    expect((err as BackboneConfigError).transient).toBe(false);
  });

  it("names backbone_tls, retrying, when a SASL handshake without TLS was closed", () => {
    const err = described(
      afterRetries(() =>
        coded(
          "Cannot find a suitable SASL mechanism.",
          "PLT_KFK_AUTHENTICATION",
          coded("Connection closed", "PLT_KFK_NETWORK"),
        ),
      ),
    );
    expect((err as BackboneConfigError).field).toBe("backbone_tls");
    expect((err as BackboneConfigError).transient).toBe(true);
    expect((err as Error).message).toMatch(/if its listener is SASL_SSL, turn backbone_tls on/);
  });

  it("still names backbone_sasl_mechanism when the listener answers the handshake with UNSUPPORTED_SASL_MECHANISM", () => {
    const err = described(
      afterRetries(() =>
        coded(
          "Cannot find a suitable SASL mechanism.",
          "PLT_KFK_AUTHENTICATION",
          Object.assign(
            coded("Received response with error while executing API SaslHandshake(v1)", "PLT_KFK_RESPONSE"),
            {
              errors: [Object.assign(new Error("Unsupported SASL mechanism"), { apiId: "UNSUPPORTED_SASL_MECHANISM" })],
            },
          ),
        ),
      ),
    );
    expect((err as BackboneConfigError).field).toBe("backbone_sasl_mechanism");
  });

  it("names backbone_tls, retrying, when TLS is on and the listener closed the connection in the handshake", () => {
    const closed = () =>
      coded(
        "TLS handshake failed. Please verify the broker supports TLS.",
        "PLT_KFK_NETWORK",
        coded("Client network socket disconnected before secure TLS connection was established", "ECONNRESET"),
      );
    const err = described(afterRetries(closed), true);
    expect((err as BackboneConfigError).field).toBe("backbone_tls");
    expect((err as BackboneConfigError).transient).toBe(true);
    expect((err as Error).message).toMatch(/turn backbone_tls off/);
  });

  it("keeps naming backbone_client_cert when TLS was set up and then closed without a client certificate", () => {
    const err = described(
      afterRetries(() => coded("Connection closed", "PLT_KFK_NETWORK")),
      true,
    );
    expect((err as BackboneConfigError).field).toBe("backbone_client_cert");
  });

  it("leaves a broker that is simply down to the caller's retry", () => {
    const refused = afterRetries(() => coded("connect ECONNREFUSED 127.0.0.1:9093", "ECONNREFUSED"));
    expect((described(refused) as BackboneConfigError).transient).toBe(true);
    expect((described(refused) as BackboneConfigError).field).toBe("backbone_url");
  });
});
