// The opcua block → node-opcua client options mapping, with bad input: every
// refusal is a ConfigError naming the connection's field to fix.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageSecurityMode, type OPCUACertificateManager, SecurityPolicy, UserTokenType } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../config.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import { SIDECAR_APPLICATION_NAME } from "./pki.ts";
import {
  explainOpcUaError,
  needsAdmin,
  type OpcUaSecurity,
  type OpcuaBlock,
  opcuaClientOptions,
  opcuaEndpointProblem,
  opcuaSecurityFromConfig,
  userIdentity,
} from "./security.ts";
import { opcuaOptionsFromConfig } from "./source.ts";

// The mapping only hands the store over; no method of it is called.
const store = { rootDir: "/nowhere" } as unknown as OPCUACertificateManager;

const block = (values: Partial<Record<keyof OpcuaBlock, unknown>> = {}) =>
  ({
    security_mode: "SignAndEncrypt",
    security_policy: "Basic256Sha256",
    auth: "anonymous",
    username: "",
    password: "",
    ...values,
  }) as OpcuaBlock;

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError, got none");
}

let pki: string;
beforeAll(() => {
  pki = mkdtempSync(join(tmpdir(), "sfb-opcua-security-"));
});
afterAll(() => rmSync(pki, { recursive: true, force: true }));

describe("opcuaClientOptions", () => {
  it.each([
    ["Basic256Sha256", "SignAndEncrypt"],
    ["Aes128_Sha256_RsaOaep", "SignAndEncrypt"],
    ["Aes256_Sha256_RsaPss", "Sign"],
    ["None", "None"],
  ] as const)("maps %s / %s to node-opcua's enums, with the sidecar's name and store", (policy, mode) => {
    const security = opcuaSecurityFromConfig(block({ security_policy: policy, security_mode: mode }), pki);
    const options = opcuaClientOptions(security, store);
    expect(options.securityPolicy).toBe(SecurityPolicy[policy]);
    expect(options.securityMode).toBe(MessageSecurityMode[mode]);
    expect(options.applicationName).toBe(SIDECAR_APPLICATION_NAME);
    expect(options.clientCertificateManager).toBe(store);
  });

  it("an unknown policy is refused naming opcua_security_policy and the policies it knows", () => {
    const err = refusal(() => opcuaSecurityFromConfig(block({ security_policy: "Basic128Rsa15" }), pki));
    expect(err.key).toBe("opcua_security_policy");
    expect(err.message).toBe(
      'opcua_security_policy: unknown security policy "Basic128Rsa15"; this sidecar supports None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss',
    );
    // Options built by hand (tests, the source's own options) go through the same check.
    const byHand = { securityMode: "Sign", securityPolicy: "Aes256", auth: { type: "anonymous" } };
    expect(refusal(() => opcuaClientOptions(byHand as unknown as OpcUaSecurity, store)).key).toBe(
      "opcua_security_policy",
    );
  });

  it("a missing policy or mode is named too", () => {
    expect(refusal(() => opcuaSecurityFromConfig(block({ security_policy: undefined }), pki)).message).toContain(
      "unknown security policy undefined",
    );
    const mode = refusal(() => opcuaSecurityFromConfig(block({ security_mode: "Encrypt" }), pki));
    expect(mode.key).toBe("opcua_security_mode");
    expect(mode.message).toContain("None, Sign, SignAndEncrypt");
  });

  it("a mode and a policy that do not go together are refused", () => {
    const none = opcuaSecurityFromConfig(
      block({ security_mode: "None", security_policy: "Aes128_Sha256_RsaOaep" }),
      pki,
    );
    expect(refusal(() => opcuaClientOptions(none, store)).message).toMatch(
      /^opcua_security_policy: security policy Aes128_Sha256_RsaOaep needs security mode Sign or SignAndEncrypt/,
    );
    const sign = opcuaSecurityFromConfig(block({ security_mode: "Sign", security_policy: "None" }), pki);
    expect(refusal(() => opcuaClientOptions(sign, store)).message).toMatch(
      /security mode Sign needs a security policy other than None/,
    );
  });
});

describe("opcuaSecurityFromConfig: logins", () => {
  it("an unknown auth and a username login without a user name are refused by field", () => {
    expect(refusal(() => opcuaSecurityFromConfig(block({ auth: "kerberos" }), pki)).key).toBe("opcua_auth");
    expect(refusal(() => opcuaSecurityFromConfig(block({ auth: "username" }), pki)).key).toBe("opcua_username");
    const ok = opcuaSecurityFromConfig(block({ auth: "username", username: "sidecar", password: "pw" }), pki);
    expect(userIdentity(ok.auth)).toEqual({ type: UserTokenType.UserName, userName: "sidecar", password: "pw" });
  });

  it("a certificate login uses the sidecar's own certificate unless user/ holds a pair; half a pair is refused", () => {
    const own = opcuaSecurityFromConfig(block({ auth: "certificate" }), pki).auth;
    expect(own).toEqual({
      type: "certificate",
      certificateFile: join(pki, "own/certs/client_certificate.pem"),
      privateKeyFile: join(pki, "own/private/private_key.pem"),
    });
    // The own certificate is created on the first connection: before that, the login names the missing file.
    const missing = refusal(() => userIdentity(own));
    expect(missing.key).toBe("opcua_auth");
    expect(missing.message).toContain(`${join(pki, "own/certs/client_certificate.pem")}, which is missing`);

    mkdirSync(join(pki, "user"), { recursive: true });
    writeFileSync(join(pki, "user/certificate.pem"), "not a certificate");
    const half = refusal(() => opcuaSecurityFromConfig(block({ auth: "certificate" }), pki));
    expect(half.key).toBe("opcua_auth");
    expect(half.message).toContain(`not ${join(pki, "user/private_key.pem")}`);

    writeFileSync(join(pki, "user/private_key.pem"), "not a key");
    const user = opcuaSecurityFromConfig(block({ auth: "certificate" }), pki).auth;
    expect(user).toMatchObject({ certificateFile: join(pki, "user/certificate.pem") });
    expect(refusal(() => userIdentity(user)).message).toMatch(/^opcua_auth: the certificate login cannot use /);
  });
});

describe("explainOpcUaError: what node-opcua's refusals mean (seen against asyncua)", () => {
  const context = {
    endpoint: "opc.tcp://plc:4840/",
    pkiDir: "/spool/pki",
    securityMode: "SignAndEncrypt",
    securityPolicy: "Basic256Sha256",
    auth: { type: "anonymous" },
  } as const;

  it("regression: the server refusing the sidecar's certificate is not reported as the sidecar distrusting the server", () => {
    const err = explainOpcUaError(new Error(" serviceResult = BadCertificateUntrusted (0x801a0000)"), context);
    expect(err.name).toBe("OpcUaTrustError");
    expect(err.message).toBe(
      "OPC UA server opc.tcp://plc:4840/ refused this sidecar's certificate (BadCertificateUntrusted): give " +
        "/spool/pki/own/certs/client_certificate.pem to the server's admin to add to the server's trusted certificates.",
    );
    const ours = explainOpcUaError(
      new Error("server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)"),
      context,
    );
    expect(ours.message).toContain("presented a certificate this sidecar does not trust");
  });

  it("regression: a login the endpoint does not offer needs an admin, it is not retried", () => {
    const err = explainOpcUaError(
      new Error("Cannot find ANONYMOUS user token policy in end point description"),
      context,
    );
    expect(err.name).toBe("OpcUaLoginError");
    expect(needsAdmin(err)).toBe(true);
    expect(err.message).toContain("does not offer the anonymous login on the SignAndEncrypt / Basic256Sha256 endpoint");
  });
});

describe("the connection's OPC UA endpoint", () => {
  it("is opc.tcp://host[:port][/path]; anything else is a ConfigError naming opcua_endpoint, not an endless retry", () => {
    for (const url of ["opc.tcp://plc-gw:4840", "opc.tcp://10.0.0.5", "opc.tcp://[::1]:4840/UA/Line1"]) {
      expect(opcuaEndpointProblem(url), url).toBeUndefined();
    }
    expect(opcuaEndpointProblem("opc.tcp://h:65536")).toBe(
      '"opc.tcp://h:65536": port 65536 is not a TCP port (1 to 65535)',
    );
    const config = (endpoint: string) =>
      ({
        code: "line3",
        revision: 1,
        rules: [],
        opcua: {
          endpoint,
          security_mode: "None",
          security_policy: "None",
          auth: "anonymous",
          username: "",
          password: "",
        },
      }) as unknown as SidecarConfig;
    for (const endpoint of ["localhost:4840", "", "http://h:4840"]) {
      const err = refusal(() => opcuaOptionsFromConfig(config(endpoint), pki));
      expect(err.key).toBe("opcua_endpoint");
      expect(err.message).toBe(
        `opcua_endpoint: ${JSON.stringify(endpoint)} is not an OPC UA endpoint: write opc.tcp://plc-gateway:4840 ` +
          "(or with a path: opc.tcp://ignition:62541/discovery)",
      );
    }
    expect(opcuaOptionsFromConfig(config("opc.tcp://gw:4840"), pki).endpoint).toBe("opc.tcp://gw:4840");
  });
});
