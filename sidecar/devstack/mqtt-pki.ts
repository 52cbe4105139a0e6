// A throwaway certificate authority for TLS tests, made with the openssl
// command line at test time (nothing secret is checked in): a CA, a broker
// certificate for 127.0.0.1 and localhost, and client certificates.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevStackError } from "./odoo.ts";

export interface PemPair {
  /** Paths, for Mosquitto's cafile/certfile/keyfile. */
  certFile: string;
  keyFile: string;
  /** PEM text, as Odoo sends it in sidecar_config. */
  cert: string;
  key: string;
}

export interface TestCa extends PemPair {
  name: string;
  dir: string;
  /**
   * A broker certificate signed by this CA, naming `subjectAltName` (by default
   * IP:127.0.0.1 and DNS:localhost).
   */
  server(subjectAltName?: string): PemPair;
  /** A client certificate with `commonName` as its subject CN, signed by this CA. */
  client(commonName: string): PemPair;
  destroy(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new DevStackError(
      `openssl ${args[0]} failed: ${stderr || (err as Error).message}. Fix: apt-get install openssl`,
    );
  }
}

/** A new CA in its own temp dir (EC P-256 keys: fast to make, accepted by Mosquitto and Node). */
export function createTestCa(name = "sfb-test-ca"): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "sfb-pki-"));
  const pair = (base: string): PemPair => {
    const certFile = join(dir, `${base}.crt`);
    const keyFile = join(dir, `${base}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  };
  const newKey = (base: string) =>
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${base}.key`], dir);
  newKey("ca");
  openssl(
    ["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", `/CN=${name}`, "-out", "ca.crt"],
    dir,
  );
  let serial = 0;
  const issue = (base: string, subject: string, extensions: string[], days: number) => {
    newKey(base);
    openssl(["req", "-new", "-key", `${base}.key`, "-subj", subject, "-out", `${base}.csr`], dir);
    writeFileSync(join(dir, `${base}.ext`), `${extensions.join("\n")}\n`);
    serial++;
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        String(serial),
        "-sha256",
        "-days",
        String(days),
        "-extfile",
        `${base}.ext`,
        "-out",
        `${base}.crt`,
      ],
      dir,
    );
    return pair(base);
  };
  const ca = pair("ca");
  return {
    ...ca,
    name,
    dir,
    server: (subjectAltName = "IP:127.0.0.1,DNS:localhost") =>
      issue(
        subjectAltName === "IP:127.0.0.1,DNS:localhost"
          ? "server"
          : `server-${subjectAltName.replace(/[^A-Za-z0-9]/g, "_")}`,
        "/CN=127.0.0.1",
        [`subjectAltName=${subjectAltName}`, "extendedKeyUsage=serverAuth", "basicConstraints=CA:FALSE"],
        2,
      ),
    client: (commonName) =>
      issue(
        `client-${commonName.replace(/[^A-Za-z0-9_-]/g, "_")}`,
        `/CN=${commonName}`,
        ["extendedKeyUsage=clientAuth", "basicConstraints=CA:FALSE"],
        2,
      ),
    destroy: () => rmSync(dir, { recursive: true, force: true }),
  };
}
