// The OPC UA client's PKI folder (node-opcua-pki layout: own/, trusted/,
// rejected/, issuers/), shared by the OPC UA source and the OPC UA floor
// writer. The sidecar's certificate is created there on first run; a server
// certificate is trusted only when an admin moves it from rejected/ to
// trusted/certs/ (or calls `trustServerCertificate`). An optional user
// certificate for X.509 login lives in user/ (see `x509UserFiles`).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OPCUACertificateManager } from "node-opcua";

export const SIDECAR_APPLICATION_NAME = "shopfloor-sidecar";

export function certificateManager(pkiDir: string): OPCUACertificateManager {
  return new OPCUACertificateManager({
    rootFolder: pkiDir,
    // The point of the PKI: an unknown server is refused, never silently accepted.
    automaticallyAcceptUnknownCertificate: false,
    disableFileWatchers: true,
  });
}

/** The sidecar's own certificate (PEM), for the server admin to trust. */
export function clientCertificateFile(pkiDir: string): string {
  return join(pkiDir, "own/certs/client_certificate.pem");
}

/** The sidecar's own key pair (application instance certificate). */
export function ownCertificateFiles(pkiDir: string): { certificateFile: string; privateKeyFile: string } {
  return {
    certificateFile: clientCertificateFile(pkiDir),
    privateKeyFile: join(pkiDir, "own/private/private_key.pem"),
  };
}

/** Where an admin puts a user certificate of its own for X.509 login. */
export function userCertificateFiles(pkiDir: string): { certificateFile: string; privateKeyFile: string } {
  return {
    certificateFile: join(pkiDir, "user/certificate.pem"),
    privateKeyFile: join(pkiDir, "user/private_key.pem"),
  };
}

export function rejectedCertificates(pkiDir: string): string[] {
  const dir = join(pkiDir, "rejected");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".pem") || f.endsWith(".der")) : [];
}

/** Trusts a server certificate given as a PEM or DER file (moves it out of rejected/ if it is there). */
export async function trustServerCertificate(pkiDir: string, certificateFile: string): Promise<void> {
  const cm = certificateManager(pkiDir);
  await cm.initialize();
  const raw = readFileSync(certificateFile);
  const text = raw.toString("latin1");
  const der = text.includes("-----BEGIN CERTIFICATE-----")
    ? Buffer.from(
        text.split("-----BEGIN CERTIFICATE-----")[1]?.split("-----END CERTIFICATE-----")[0]?.replace(/\s+/g, "") ?? "",
        "base64",
      )
    : raw;
  await cm.trustCertificate(der);
  await cm.dispose();
}

export class OpcUaTrustError extends Error {
  override name = "OpcUaTrustError";
}
