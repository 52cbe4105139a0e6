// How the sidecar talks to an OPC UA server, for the OPC UA source and the
// OPC UA floor writer alike: the one mapping from the connection's opcua
// block to node-opcua client options (message security, the sidecar's own
// certificate store, the user identity), and the one reading of node-opcua's
// refusals into errors that tell the admin what to fix.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  MessageSecurityMode,
  type OPCUACertificateManager,
  type OPCUAClientOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from "node-opcua";
import { ConfigError } from "../../config.ts";
import type { SidecarConfig } from "../../core/contract.ts";
import {
  clientCertificateFile,
  OpcUaTrustError,
  ownCertificateFiles,
  rejectedCertificates,
  SIDECAR_APPLICATION_NAME,
  userCertificateFiles,
} from "./pki.ts";

export const SECURITY_MODES = ["None", "Sign", "SignAndEncrypt"] as const;
/** node-opcua's SecurityPolicy names this sidecar offers (the deprecated Basic128Rsa15 and Basic256 are not). */
export const SECURITY_POLICIES = [
  "None",
  "Basic256Sha256",
  "Aes128_Sha256_RsaOaep",
  "Aes256_Sha256_RsaPss",
] as const satisfies readonly (keyof typeof SecurityPolicy)[];
export const AUTH_TYPES = ["anonymous", "username", "certificate"] as const;

export type OpcUaSecurityMode = (typeof SECURITY_MODES)[number];
export type OpcUaSecurityPolicy = (typeof SECURITY_POLICIES)[number];

export type OpcUaAuth =
  | { type: "anonymous" }
  | { type: "username"; username: string; password: string }
  | { type: "certificate"; certificateFile: string; privateKeyFile: string };

export interface OpcUaSecurity {
  securityMode: OpcUaSecurityMode;
  securityPolicy: OpcUaSecurityPolicy;
  auth: OpcUaAuth;
}

export type OpcuaBlock = Exclude<SidecarConfig["opcua"], false>;

/** No opcua block (a connection of another kind writing to an OPC UA target): no security, anonymous. */
export const NO_SECURITY: OpcUaSecurity = { securityMode: "None", securityPolicy: "None", auth: { type: "anonymous" } };

export class OpcUaLoginError extends Error {
  override name = "OpcUaLoginError";
}

/** opc.tcp://host[:port][/path]: the one transport node-opcua speaks (the module checks the same, opcua_node.py). */
const ENDPOINT = /^opc\.tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?(\/[^\s\p{Cc}\ufeff]*)?$/u;
const ENDPOINT_EXAMPLE = "opc.tcp://plc-gateway:4840 (or with a path: opc.tcp://ignition:62541/discovery)";

/**
 * Why `url` is no OPC UA endpoint the sidecar can connect to; undefined when it is one. node-opcua
 * itself only retried such a URL for ever, saying the server "may have rejected" the connection.
 */
export function opcuaEndpointProblem(url: string): string | undefined {
  const match = ENDPOINT.exec(url);
  if (!match) return `${JSON.stringify(url)} is not an OPC UA endpoint: write ${ENDPOINT_EXAMPLE}`;
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) {
    return `${JSON.stringify(url)}: port ${port} is not a TCP port (1 to 65535)`;
  }
  return undefined;
}

/**
 * The security settings of a connection's opcua block. A certificate login
 * uses the user certificate in `<pkiDir>/user/` when an admin put one there,
 * else the sidecar's own application certificate.
 */
export function opcuaSecurityFromConfig(
  block: Pick<OpcuaBlock, "security_mode" | "security_policy" | "auth" | "username" | "password">,
  pkiDir: string,
): OpcUaSecurity {
  const securityMode = oneOf("opcua_security_mode", "security mode", block.security_mode, SECURITY_MODES);
  const securityPolicy = oneOf("opcua_security_policy", "security policy", block.security_policy, SECURITY_POLICIES);
  const authType = oneOf("opcua_auth", "authentication", block.auth, AUTH_TYPES);
  let auth: OpcUaAuth = { type: "anonymous" };
  if (authType === "username") {
    if (!block.username) throw new ConfigError("opcua_username", "the username login needs a user name");
    auth = { type: "username", username: block.username, password: block.password };
  }
  if (authType === "certificate") auth = { type: "certificate", ...x509UserFiles(pkiDir) };
  return { securityMode, securityPolicy, auth };
}

/** A user certificate of its own (both files in `<pkiDir>/user/`), or the sidecar's application certificate. */
export function x509UserFiles(pkiDir: string): { certificateFile: string; privateKeyFile: string } {
  const user = userCertificateFiles(pkiDir);
  const present = [user.certificateFile, user.privateKeyFile].filter((file) => existsSync(file));
  if (present.length === 2) return user;
  if (present.length === 0) return ownCertificateFiles(pkiDir);
  const missing = existsSync(user.certificateFile) ? user.privateKeyFile : user.certificateFile;
  throw new ConfigError(
    "opcua_auth",
    `the certificate login found ${present[0]} but not ${missing}: put both files of the user certificate ` +
      `there, or neither to log in with the sidecar's own certificate`,
  );
}

/**
 * node-opcua client options for these settings: the message security checked
 * (an unknown mode or policy, or a mode and policy that do not go together, is
 * a ConfigError naming the connection's field), the sidecar's application name
 * (its certificate's URI is made from it) and its certificate store.
 */
export function opcuaClientOptions(
  security: OpcUaSecurity,
  certificateManager: OPCUACertificateManager,
): Pick<OPCUAClientOptions, "applicationName" | "clientCertificateManager" | "securityMode" | "securityPolicy"> {
  const mode = oneOf("opcua_security_mode", "security mode", security.securityMode, SECURITY_MODES);
  const policy = oneOf("opcua_security_policy", "security policy", security.securityPolicy, SECURITY_POLICIES);
  if ((mode === "None") !== (policy === "None")) {
    throw new ConfigError(
      "opcua_security_policy",
      mode === "None"
        ? `security policy ${policy} needs security mode Sign or SignAndEncrypt (opcua_security_mode is None)`
        : `security mode ${mode} needs a security policy other than None (one of ${SECURITY_POLICIES.slice(1).join(", ")})`,
    );
  }
  return {
    applicationName: SIDECAR_APPLICATION_NAME,
    clientCertificateManager: certificateManager,
    securityMode: MessageSecurityMode[mode],
    securityPolicy: SecurityPolicy[policy],
  };
}

/** The user identity node-opcua's createSession takes; a certificate login's files are read and checked here. */
export function userIdentity(auth: OpcUaAuth): UserIdentityInfo {
  if (auth.type === "username") {
    return { type: UserTokenType.UserName, userName: auth.username, password: auth.password };
  }
  if (auth.type === "certificate") {
    for (const file of [auth.certificateFile, auth.privateKeyFile]) {
      if (!existsSync(file))
        throw new ConfigError("opcua_auth", `the certificate login needs ${file}, which is missing`);
    }
    let certificate: X509Certificate;
    let privateKey: string;
    try {
      certificate = new X509Certificate(readFileSync(auth.certificateFile));
      privateKey = readFileSync(auth.privateKeyFile, "utf8");
      if (!certificate.checkPrivateKey(createPrivateKey(privateKey))) {
        throw new Error(`${auth.privateKeyFile} is not the key of ${auth.certificateFile}`);
      }
    } catch (err) {
      throw new ConfigError(
        "opcua_auth",
        `the certificate login cannot use ${auth.certificateFile} / ${auth.privateKeyFile}: ${(err as Error).message}`,
      );
    }
    return { type: UserTokenType.Certificate, certificateData: certificate.raw, privateKey };
  }
  return { type: UserTokenType.Anonymous };
}

/**
 * node-opcua's refusals as errors that say what to do: an untrusted server
 * certificate (OpcUaTrustError), a refused login (OpcUaLoginError), a mode
 * and policy the server does not offer (ConfigError); anything else is
 * returned as it is. None of them heals by retrying.
 */
export function explainOpcUaError(err: Error, context: OpcUaSecurity & { endpoint: string; pkiDir: string }): Error {
  if (needsAdmin(err)) return err;
  const { endpoint, pkiDir, auth } = context;
  if (/Cannot find an Endpoint matching/i.test(err.message)) {
    return new ConfigError(
      "opcua_security_policy",
      `OPC UA server ${endpoint} offers no endpoint with security mode ${context.securityMode} and policy ` +
        `${context.securityPolicy}: choose a mode and policy it offers, or enable them on the server`,
    );
  }
  const serverRefusal = /BadCertificate\w*/.exec(err.message);
  if (serverRefusal && !/server certificate verification/i.test(err.message)) {
    // The server checked the sidecar's certificate (asyncua does so on CreateSession) and said no.
    return new OpcUaTrustError(
      `OPC UA server ${endpoint} refused this sidecar's certificate (${serverRefusal[0]}): give ` +
        `${clientCertificateFile(pkiDir)} to the server's admin to add to the server's trusted certificates.`,
      { cause: err },
    );
  }
  if (/BadCertificate|certificate verification/i.test(err.message)) {
    const rejected = rejectedCertificates(pkiDir);
    return new OpcUaTrustError(
      `OPC UA server ${endpoint} presented a certificate this sidecar does not trust (${err.message}). ` +
        `It was stored in ${pkiDir}/rejected/${rejected.length ? ` (${rejected.join(", ")})` : ""}; ` +
        `after checking its thumbprint with the server's admin, move it to ${pkiDir}/trusted/certs/ to trust it.`,
      { cause: err },
    );
  }
  const missingToken = /Cannot find (\w+) user token policy/i.exec(err.message);
  if (missingToken) {
    // node-opcua looks for the login's token policy in the endpoint before it asks the server.
    return new OpcUaLoginError(
      `OPC UA server ${endpoint} does not offer the ${auth.type} login on the ${context.securityMode} / ` +
        `${context.securityPolicy} endpoint (${err.message}): choose a login it offers, or enable this one on the server`,
      { cause: err },
    );
  }
  if (/BadIdentityTokenRejected|BadUserAccessDenied|BadIdentityTokenInvalid/.test(err.message)) {
    const hint =
      auth.type === "certificate"
        ? ` (the server must trust the user certificate ${auth.certificateFile} in its user certificate store)`
        : "";
    return new OpcUaLoginError(`OPC UA server ${endpoint} refused the ${auth.type} login${hint}: ${err.message}`, {
      cause: err,
    });
  }
  return err;
}

/** Is this error one a retry cannot fix (the admin must trust, log in or configure differently)? */
export function needsAdmin(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof OpcUaTrustError || err instanceof OpcUaLoginError;
}

function oneOf<T extends string>(field: string, what: string, value: unknown, known: readonly T[]): T {
  if (typeof value === "string" && (known as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(field, `unknown ${what} ${JSON.stringify(value)}; this sidecar supports ${known.join(", ")}`);
}
