// OPC UA security for the source and the floor writer together, against the
// simulator's real node-opcua server: both share one PKI folder (one sidecar
// certificate, one trust list), as they do in a running sidecar.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../devstack/odoo.ts";
import { Line, MACHINE_STATE, type PLANNING_FIELDS, planningPath } from "../../../simulator/line.ts";
import { type SecurePolicy, SimOpcuaServer, type SimOpcuaServerOptions } from "../../../simulator/opcua-server.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { queueMessage } from "../../../test/support/floor/floor-writer.contract.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import { FloorWriteError } from "../../floor/errors.ts";
import { OpcuaFloorWriter } from "../../floor/opcua-writer.ts";
import { SLOT_FIELDS, SLOT_TAG_NAMES } from "../../floor/queue.ts";
import { VersionStore } from "../../floor/version-store.ts";
import { clientCertificateFile, trustServerCertificate, userCertificateFiles } from "./pki.ts";
import type { OpcuaBlock } from "./security.ts";
import { type OpcUaAuth, OpcUaSource, type OpcUaSourceOptions } from "./source.ts";

const LINE = "Line1";
const MACHINE = "Press03";
let dir: string;
let cases = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-opcua-security-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server, and a fresh sidecar PKI folder the source and the writer share. */
async function rig(opts: Partial<SimOpcuaServerOptions> = {}) {
  const name = `case${++cases}`;
  const line = new Line(LINE, [MACHINE]);
  const server = new SimOpcuaServer({
    line,
    port: await freePort(),
    pkiDir: join(dir, `${name}-server-pki`),
    users: [{ username: "sidecar", password: "s3cret" }],
    allowAnonymous: false,
    ...opts,
  });
  await server.start();
  const pki = join(dir, `${name}-sidecar-pki`);
  return { line, server, pki, name };
}

function sourceOptions(endpoint: string, pki: string, security: Partial<OpcUaSourceOptions>): OpcUaSourceOptions {
  return {
    connection: "line1-opcua",
    revision: 1,
    endpoint,
    securityMode: "None",
    securityPolicy: "None",
    auth: { type: "anonymous" },
    pkiDir: pki,
    rules: lineRules({ line: LINE, machines: [MACHINE], protocol: "opcua" }),
    publishingIntervalMs: 100,
    samplingIntervalMs: 0,
    reconnectDelayMs: 200,
    startTimeoutMs: 3_000,
    flushIntervalMs: 200,
    ...security,
  };
}

function writer(pki: string, security: OpcuaBlock | undefined) {
  return new OpcuaFloorWriter({
    versions: new VersionStore(join(pki, "..", `${cases}-versions.json`)),
    pkiDir: pki,
    security,
    timeoutMs: 5_000,
  });
}

function block(values: Partial<OpcuaBlock>): OpcuaBlock {
  return {
    endpoint: "",
    security_mode: "SignAndEncrypt",
    security_policy: "Basic256Sha256",
    auth: "username",
    username: "sidecar",
    password: "s3cret",
    publishing_interval_ms: 100,
    sampling_interval_ms: 0,
    ...values,
  };
}

/** A queue message for the simulator's planning tags (slot fields and the JSON tag). */
function planningMessage(server: SimOpcuaServer, version: number, orders: string[]) {
  const slot = (n: number) =>
    Object.fromEntries(
      SLOT_FIELDS.map((field) => [
        field,
        `ns=2;s=${planningPath(LINE, n, SLOT_TAG_NAMES[field] as (typeof PLANNING_FIELDS)[number])}`,
      ]),
    );
  const params = {
    endpoint: server.endpoint,
    slots: [slot(0), slot(1)],
    queue_json: `ns=2;s=${planningPath(LINE, null, "QueueJson")}`,
  };
  return queueMessage("WC-SEC", version, orders, { kind: "opcua", params }, 2);
}

const slotOrder = (line: Line, n: number) => line.planning.get(planningPath(LINE, n, "Order"));

async function failure(promise: Promise<unknown>): Promise<FloorWriteError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FloorWriteError);
  return err as FloorWriteError;
}

const SECURE_CASES: [SecurePolicy, "Sign" | "SignAndEncrypt"][] = [
  ["Basic256Sha256", "SignAndEncrypt"],
  ["Aes128_Sha256_RsaOaep", "SignAndEncrypt"],
  ["Aes256_Sha256_RsaPss", "SignAndEncrypt"],
  ["Aes256_Sha256_RsaPss", "Sign"],
];

describe("OPC UA security policies: source and floor writer", () => {
  it.each(SECURE_CASES)("%s / %s: the source reads and the writer writes (username login)", async (policy, mode) => {
    // Beside None (which node-opcua's client needs to fetch the server's certificate) the server offers
    // this one policy and mode; the sessions it reports show what was negotiated.
    const { line, server, pki } = await rig({ securityPolicies: [policy], securityModes: ["None", mode] });
    await trustServerCertificate(pki, server.certificateFile);
    const sink = new MemorySink();
    const auth: OpcUaAuth = { type: "username", username: "sidecar", password: "s3cret" };
    const source = new OpcUaSource(
      sourceOptions(server.endpoint, pki, { securityMode: mode, securityPolicy: policy, auth }),
    );
    const floor = writer(pki, block({ security_mode: mode, security_policy: policy }));
    try {
      line.set(MACHINE, "CurrentOrder", `MO-${policy}`);
      await source.start(sink);
      line.set(MACHINE, "State", MACHINE_STATE.down);
      await sink.waitFor(() => sink.ofType("downtime.started").length === 1, 10_000, `downtime over ${policy}`);
      expect(sink.ofType("downtime.started")[0]?.data.order).toBe(`MO-${policy}`);

      await floor.write(planningMessage(server, 1, [`WO-${policy}`, "WO-2"]));
      expect(slotOrder(line, 0)).toBe(`WO-${policy}`);
      expect(slotOrder(line, 1)).toBe("WO-2");
      expect(floor.floorWrites).toBe(1);
      expect(server.sessions()).toEqual([
        { securityPolicy: policy, securityMode: mode, userToken: "UserNameIdentityToken" },
        { securityPolicy: policy, securityMode: mode, userToken: "UserNameIdentityToken" },
      ]);
    } finally {
      await floor.close();
      await source.stop();
      await server.stop();
    }
  });

  it("a server that does not offer the configured policy is refused, not silently downgraded", async () => {
    const { server, pki } = await rig({ securityPolicies: ["Basic256Sha256"] });
    await trustServerCertificate(pki, server.certificateFile);
    const floor = writer(pki, block({ security_policy: "Aes256_Sha256_RsaPss" }));
    try {
      const err = await failure(floor.write(planningMessage(server, 1, ["WO-X"])));
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(
        `opcua_security_policy: OPC UA server ${server.endpoint} offers no endpoint with security mode SignAndEncrypt and policy Aes256_Sha256_RsaPss`,
      );
      expect(floor.floorWrites).toBe(0);

      const source = new OpcUaSource(
        sourceOptions(server.endpoint, pki, { securityMode: "SignAndEncrypt", securityPolicy: "Aes256_Sha256_RsaPss" }),
      );
      const startErr = await source.start(new MemorySink()).then(
        () => undefined,
        (e: Error) => e,
      );
      await source.stop();
      // At once, not after the start timeout: retrying cannot help.
      expect(startErr?.name).toBe("ConfigError");
      expect(startErr?.message).toContain("offers no endpoint with security mode SignAndEncrypt");
      expect(source.stats().connect_failures).toBe(1);
    } finally {
      await floor.close();
      await server.stop();
    }
  });
});

describe("OPC UA floor writer: server certificate trust", () => {
  it("an unknown server certificate is refused (stored in rejected/, nothing written); once trusted the write lands", async () => {
    const { line, server, pki } = await rig();
    const floor = writer(pki, block({}));
    try {
      const err = await failure(floor.write(planningMessage(server, 1, ["WO-TRUST"])));
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(
        `OPC UA server ${server.endpoint} presented a certificate this sidecar does not trust`,
      );
      expect(err.message).toContain(`move it to ${pki}/trusted/certs/ to trust it`);
      expect(err.message).toMatch(/Then retry the message\.$/);
      const rejected = readdirSync(join(pki, "rejected")).filter((f) => f.endsWith(".pem"));
      expect(rejected).toHaveLength(1);
      expect(err.message).toContain(rejected[0]);
      expect(slotOrder(line, 0)).toBeUndefined();
      expect(server.stats().planning_writes).toBe(0);
      expect(floor.floorWrites).toBe(0);

      // The admin's move, with the sidecar still running: the next attempt sees it.
      mkdirSync(join(pki, "trusted/certs"), { recursive: true });
      renameSync(join(pki, "rejected", rejected[0] as string), join(pki, "trusted/certs", rejected[0] as string));
      await floor.write(planningMessage(server, 1, ["WO-TRUST"]));
      expect(slotOrder(line, 0)).toBe("WO-TRUST");
      expect(floor.floorWrites).toBe(1);
    } finally {
      await floor.close();
      await server.stop();
    }
  });

  it("a wrong password is refused for good, naming the login; the right one writes", async () => {
    const { line, server, pki } = await rig();
    await trustServerCertificate(pki, server.certificateFile);
    const wrong = writer(pki, block({ password: "wrong" }));
    const right = writer(pki, block({}));
    try {
      const err = await failure(wrong.write(planningMessage(server, 1, ["WO-PW"])));
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/refused the username login/);
      expect(slotOrder(line, 0)).toBeUndefined();
      await right.write(planningMessage(server, 1, ["WO-PW"]));
      expect(slotOrder(line, 0)).toBe("WO-PW");
    } finally {
      await wrong.close();
      await right.close();
      await server.stop();
    }
  });
});

describe("OPC UA X.509 user login", () => {
  it("the sidecar's own certificate: refused while the server does not trust it, accepted once it does", async () => {
    const { line, server, pki } = await rig({ userCertificates: "trusted" });
    await trustServerCertificate(pki, server.certificateFile);
    const auth: OpcUaAuth = {
      type: "certificate",
      certificateFile: clientCertificateFile(pki),
      privateKeyFile: join(pki, "own/private/private_key.pem"),
    };
    const security = { securityMode: "SignAndEncrypt", securityPolicy: "Aes128_Sha256_RsaOaep", auth } as const;
    const refused = new OpcUaSource(sourceOptions(server.endpoint, pki, security));
    const floor = writer(pki, block({ auth: "certificate", security_policy: "Aes128_Sha256_RsaOaep" }));
    let accepted: OpcUaSource | undefined;
    try {
      const err = await refused.start(new MemorySink()).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.name).toBe("OpcUaLoginError");
      expect(err?.message).toContain(
        `refused the certificate login (the server must trust the user certificate ${auth.certificateFile}`,
      );
      const writeErr = await failure(floor.write(planningMessage(server, 1, ["WO-X509"])));
      expect(writeErr.retryable).toBe(false);
      expect(writeErr.message).toContain("refused the certificate login");
      expect(slotOrder(line, 0)).toBeUndefined();

      await server.trustUserCertificate(auth.certificateFile);
      const sink = new MemorySink();
      accepted = new OpcUaSource(sourceOptions(server.endpoint, pki, security));
      line.set(MACHINE, "CurrentOrder", "MO-X509");
      await accepted.start(sink);
      line.set(MACHINE, "State", MACHINE_STATE.setup);
      await sink.waitFor(() => sink.ofType("setup.started").length === 1, 10_000, "setup with an X.509 login");
      await floor.write(planningMessage(server, 1, ["WO-X509"]));
      expect(slotOrder(line, 0)).toBe("WO-X509");
      expect(server.sessions().map((session) => session.userToken)).toEqual(["X509IdentityToken", "X509IdentityToken"]);
    } finally {
      await refused.stop();
      await accepted?.stop();
      await floor.close();
      await server.stop();
    }
  });

  it("a user certificate of its own in <pki>/user/ is the one presented (the application certificate is not trusted)", async () => {
    const { line, server, pki } = await rig({ userCertificates: "trusted" });
    await trustServerCertificate(pki, server.certificateFile);
    const user = userCertificateFiles(pki);
    mkdirSync(join(pki, "user"), { recursive: true });
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=shopfloor-sidecar line1 user",
        "-addext",
        "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment",
        "-keyout",
        user.privateKeyFile,
        "-out",
        user.certificateFile,
      ],
      // node-opcua-crypto leaves OPENSSL_CONF="undefined" in process.env after reading a key: not for openssl.
      { stdio: "pipe", env: { PATH: process.env.PATH } },
    );
    const floor = writer(
      pki,
      block({ auth: "certificate", security_mode: "Sign", security_policy: "Aes256_Sha256_RsaPss" }),
    );
    try {
      const refused = await failure(floor.write(planningMessage(server, 1, ["WO-USER"])));
      expect(refused.message).toContain(`the server must trust the user certificate ${user.certificateFile}`);
      await server.trustUserCertificate(user.certificateFile);
      await floor.write(planningMessage(server, 1, ["WO-USER"]));
      expect(slotOrder(line, 0)).toBe("WO-USER");
      expect(server.sessions()).toEqual([
        { securityPolicy: "Aes256_Sha256_RsaPss", securityMode: "Sign", userToken: "X509IdentityToken" },
      ]);
      // The application certificate was created on the first connection but never trusted for users.
      expect(existsSync(clientCertificateFile(pki))).toBe(true);
    } finally {
      await floor.close();
      await server.stop();
    }
  });
});
