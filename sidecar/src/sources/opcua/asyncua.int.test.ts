// The OPC UA source and the OPC UA floor writer against asyncua's server
// (FreeOpcUa, Python): an OPC UA stack nobody on this project wrote, in place
// of the node-opcua servers the other OPC UA tests use. Security both ways
// (the server trusts the sidecar's certificate from its trusted/ folder, the
// sidecar trusts the server's in its PKI), every policy and mode both stacks
// offer, logins, the data types a PLC serves, a server crash mid-shift, and
// the floor writer's writes read back with asyncua's own client.

import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../devstack/odoo.ts";
import { Ledger } from "../../../simulator/ledger.ts";
import { Line } from "../../../simulator/line.ts";
import { lineRules } from "../../../simulator/rules.ts";
import { Simulation } from "../../../simulator/simulation.ts";
import { queueMessage } from "../../../test/support/floor/floor-writer.contract.ts";
import {
  AsyncuaLineServer,
  AsyncuaPeer,
  type AsyncuaPeerOptions,
  type AsyncuaPolicy,
  type AsyncuaType,
  type AsyncuaVariable,
  readWithAsyncua,
} from "../../../test/support/opcua/asyncua-peer.ts";
import { MemorySink } from "../../../test/support/simulator/memory-sink.ts";
import type { MappingRule } from "../../core/contract.ts";
import { FloorWriteError } from "../../floor/errors.ts";
import { OpcuaFloorWriter } from "../../floor/opcua-writer.ts";
import { VersionStore } from "../../floor/version-store.ts";
import { derivedEventId } from "../../rules/types.ts";
import { clientCertificateFile, trustServerCertificate } from "./pki.ts";
import type { OpcUaSecurityMode, OpcUaSecurityPolicy, OpcuaBlock } from "./security.ts";
import { type OpcUaAuth, OpcUaSource, type OpcUaSourceOptions } from "./source.ts";

const MACHINE = "Press03";
let dir: string;
let cases = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-asyncua-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const debugLog = process.env.SFB_DEBUG
  ? (level: string, message: string) => console.log(new Date().toISOString(), level, message)
  : undefined;

function sourceOptions(endpoint: string, pkiDir: string, rules: MappingRule[], more: Partial<OpcUaSourceOptions> = {}) {
  const opts: OpcUaSourceOptions = {
    connection: "line1-asyncua",
    revision: 4,
    endpoint,
    securityMode: "None",
    securityPolicy: "None",
    auth: { type: "anonymous" },
    pkiDir,
    rules,
    publishingIntervalMs: 100,
    samplingIntervalMs: 0,
    lifetimeCount: 30,
    maxKeepAliveCount: 5,
    reconnectDelayMs: 200,
    maxReconnectDelayMs: 1_000,
    startTimeoutMs: 5_000,
    flushIntervalMs: 200,
    ...more,
  };
  if (debugLog) opts.log = debugLog;
  return opts;
}

const lineRulesOpcua = () => lineRules({ line: "Line1", machines: [MACHINE], protocol: "opcua" });

/** Starts the source and waits until every monitored item delivered its first value (a counter's baseline). */
async function startAndSettle(source: OpcUaSource, sink: MemorySink, items: number): Promise<void> {
  await source.start(sink);
  await expect.poll(() => source.stats().changes, { timeout: 15_000, interval: 50 }).toBeGreaterThanOrEqual(items);
}

describe("OPC UA source against asyncua: the simulated line", () => {
  it("a short shift (setup, parts with scrap, a jam, completion) arrives as the ledger says", async () => {
    const line = new Line("Line1", [MACHINE]);
    const ledger = new Ledger("asyncua-shift", "Line1", [MACHINE]);
    const server = new AsyncuaLineServer(line, { port: await freePort(), pkiDir: join(dir, "shift-server") });
    const sim = new Simulation(line, ledger, { stepMs: 40, pulseMs: 600 });
    sim.outputs.push(server);
    await sim.start();
    const sink = new MemorySink();
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "shift-client"), lineRulesOpcua()));
    try {
      await startAndSettle(source, sink, 8);
      await sim.startOrder(MACHINE, "WH/MO/00011", "Pressing");
      await sim.setState(MACHINE, "setup");
      await sim.step(3);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 5, 1);
      await sim.setState(MACHINE, "down", "JAM");
      await sim.step(4);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3, 1);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 20_000, "workorder.completed");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 8, 5_000, "8 good parts");
      expectSinkMatchesLedger(sink, ledger, "WH/MO/00011");
    } finally {
      await source.stop();
      await sim.stop();
    }
  });
});

/** What the sink received equals what the simulator did, field by field and time by time. */
function expectSinkMatchesLedger(sink: MemorySink, ledger: Ledger, order: string) {
  const expected = ledger.orders.get(order);
  expect(sink.sum("production.reported", "qty_good")).toBe(expected?.good);
  expect(sink.sum("scrap.reported", "qty")).toBe(expected?.scrap);
  for (const event of [...sink.ofType("production.reported"), ...sink.ofType("scrap.reported")]) {
    expect(event.data.order).toBe(order);
  }
  const expectedEvents = ledger.entries.filter((entry) => entry.expect).map((entry) => entry.expect?.type);
  const countOf = (types: (string | undefined)[], type: string) => types.filter((t) => t === type).length;
  for (const type of ["workorder.started", "workorder.completed", "downtime.started", "downtime.ended"]) {
    expect(sink.ofType(type).length, type).toBe(countOf(expectedEvents, type));
  }
  expect(sink.ofType("downtime.started").map((e) => [e.data.reason_code, e.time])).toEqual(
    ledger.downtimes.map((d) => [d.reason_code, d.start]),
  );
  expect(sink.ofType("downtime.ended").map((e) => e.time)).toEqual(ledger.downtimes.map((d) => d.end));
  expect(sink.ofType("setup.started").map((e) => e.time)).toEqual(ledger.setups.map((s) => s.start));
  expect(sink.duplicates).toBe(0);
}

const USERS = { sidecar: "s3cret" };
const SIDECAR_LOGIN: OpcUaAuth = { type: "username", username: "sidecar", password: "s3cret" };

/** A started asyncua server on a free port, stopped after the file. */
const peers: AsyncuaPeer[] = [];
afterAll(async () => {
  for (const peer of peers) await peer.stop();
});
async function startPeer(options: Omit<AsyncuaPeerOptions, "port" | "pkiDir">): Promise<AsyncuaPeer> {
  const peer = new AsyncuaPeer({ port: await freePort(), pkiDir: join(dir, `server-${++cases}`), ...options });
  await peer.start();
  peers.push(peer);
  return peer;
}

function writerFor(pkiDir: string, security?: Partial<OpcuaBlock>) {
  return new OpcuaFloorWriter({
    versions: new VersionStore(join(dir, `versions-${++cases}.json`)),
    pkiDir,
    security: security && {
      endpoint: "",
      security_mode: "None",
      security_policy: "None",
      auth: "anonymous",
      username: "",
      password: "",
      publishing_interval_ms: 100,
      sampling_interval_ms: 0,
      ...security,
    },
    timeoutMs: 8_000,
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

const STATE = "ns=2;s=Sec/State";
const ORDER = "ns=2;s=Sec/Order";
const Q_ORDER = "ns=2;s=Sec/Queue/0/Order";
const Q_QTY = "ns=2;s=Sec/Queue/0/Qty";
const SECURE_VARIABLES: AsyncuaVariable[] = [
  { node: STATE, type: "Int32", value: 1 },
  { node: ORDER, type: "String", value: "WH/MO/SEC" },
  { node: Q_ORDER, type: "String", value: "", writable: true },
  { node: Q_QTY, type: "Double", value: 0, writable: true },
];
const stateRules = (): MappingRule[] => [
  {
    id: 1,
    kind: "state",
    protocol: "opcua",
    address: STATE,
    source: "plant1/sec/press",
    event_type: "",
    params: { value_map: { "1": "running", "3": "down" }, order_address: ORDER },
  },
];

function secureMessage(endpoint: string, version: number, order: string) {
  const params = { endpoint, slots: [{ order: Q_ORDER, qty: Q_QTY }] };
  return queueMessage("WC-SEC", version, [order], { kind: "opcua", params }, 1);
}

/**
 * Trust both ways, as two admins do it: the sidecar's admin trusts the
 * server's certificate in the sidecar's PKI; the server refuses the sidecar's
 * certificate on the first session, stores it in its rejected/ folder, and the
 * server's admin moves it to trusted/.
 */
async function trustBothWays(peer: AsyncuaPeer, pkiDir: string, mode: OpcUaSecurityMode, policy: OpcUaSecurityPolicy) {
  await trustServerCertificate(pkiDir, peer.certificateFile);
  const first = new OpcUaSource(
    sourceOptions(peer.endpoint, pkiDir, stateRules(), {
      securityMode: mode,
      securityPolicy: policy,
      auth: SIDECAR_LOGIN,
    }),
  );
  const refused = await failure(first.start(new MemorySink()));
  await first.stop();
  const [rejected] = readdirSync(peer.rejectedDir);
  if (!rejected) throw new Error(`the asyncua server rejected no certificate: ${refused.message}`);
  renameSync(join(peer.rejectedDir, rejected), join(peer.trustedDir, rejected));
  return refused;
}

const SECURE_CASES: [OpcUaSecurityPolicy, OpcUaSecurityMode, AsyncuaPolicy][] = [
  ["Basic256Sha256", "Sign", "Basic256Sha256_Sign"],
  ["Basic256Sha256", "SignAndEncrypt", "Basic256Sha256_SignAndEncrypt"],
  ["Aes128_Sha256_RsaOaep", "Sign", "Aes128Sha256RsaOaep_Sign"],
  ["Aes128_Sha256_RsaOaep", "SignAndEncrypt", "Aes128Sha256RsaOaep_SignAndEncrypt"],
  ["Aes256_Sha256_RsaPss", "Sign", "Aes256Sha256RsaPss_Sign"],
  ["Aes256_Sha256_RsaPss", "SignAndEncrypt", "Aes256Sha256RsaPss_SignAndEncrypt"],
];

describe("asyncua security: certificates trusted both ways, every policy and mode both stacks offer", () => {
  it("trust both ways: each side's refusal says what to do; once both trust, source and writer work", async () => {
    const peer = await startPeer({
      policies: ["Basic256Sha256_SignAndEncrypt"],
      clientTrust: "trusted",
      anonymous: false,
      users: USERS,
      variables: SECURE_VARIABLES,
    });
    const pki = join(dir, "trust-client");
    const security = { securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", auth: SIDECAR_LOGIN } as const;
    const logs: string[] = [];
    const untrusting = new OpcUaSource({
      ...sourceOptions(peer.endpoint, pki, stateRules(), security),
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    try {
      // 1. The sidecar does not know the server's certificate.
      const notTrusted = await failure(untrusting.start(new MemorySink()));
      expect(notTrusted.name).toBe("OpcUaTrustError");
      expect(notTrusted.message).toContain(
        `OPC UA server ${peer.endpoint} presented a certificate this sidecar does not trust`,
      );
      expect(notTrusted.message).toContain(`move it to ${pki}/trusted/certs/`);
      expect(readdirSync(join(pki, "rejected"))).toHaveLength(1);
      // Regression: asyncua closes the channel before the refusal reaches the client, and that close
      // started a reconnect loop behind the failed start, retrying for ever what needs an admin.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(logs.filter((line) => line.includes("reconnect failed") || line.includes("re-creating"))).toEqual([]);
      expect(untrusting.stats().connect_failures).toBe(1);
      await untrusting.stop();

      // 2. The sidecar trusts the server; the server does not know the sidecar's certificate.
      // Regression: this refusal was reported as the sidecar not trusting the server.
      const refused = await trustBothWays(peer, pki, "SignAndEncrypt", "Basic256Sha256");
      expect(refused.name).toBe("OpcUaTrustError");
      expect(refused.message).toBe(
        `OPC UA server ${peer.endpoint} refused this sidecar's certificate (BadCertificateUntrusted): give ` +
          `${clientCertificateFile(pki)} to the server's admin to add to the server's trusted certificates.`,
      );
      // What the server refused (and its admin trusted) is the sidecar's own certificate.
      const trustedBytes = readFileSync(join(peer.trustedDir, readdirSync(peer.trustedDir)[0] as string));
      expect(new X509Certificate(trustedBytes).fingerprint256).toBe(
        new X509Certificate(readFileSync(clientCertificateFile(pki))).fingerprint256,
      );

      // 3. Both trust: the source reads, the writer writes.
      const sink = new MemorySink();
      const source = new OpcUaSource(sourceOptions(peer.endpoint, pki, stateRules(), security));
      const writer = writerFor(pki, {
        security_mode: "SignAndEncrypt",
        security_policy: "Basic256Sha256",
        auth: "username",
        username: "sidecar",
        password: "s3cret",
      });
      try {
        await startAndSettle(source, sink, 2);
        await peer.set(STATE, 3);
        await sink.waitFor(() => sink.ofType("downtime.started").length === 1, 10_000, "downtime over SignAndEncrypt");
        await writer.write(secureMessage(peer.endpoint, 1, "WH/MO/TRUST"));
        expect((await peer.get(Q_ORDER)).value).toBe("WH/MO/TRUST");
      } finally {
        await writer.close();
        await source.stop();
      }
    } finally {
      await untrusting.stop();
    }
  });

  describe("each policy and mode (the server offers all of them and no None endpoint)", () => {
    let peer: AsyncuaPeer;
    const pki = () => join(dir, "matrix-client");
    beforeAll(async () => {
      peer = await startPeer({
        policies: SECURE_CASES.map(([, , name]) => name),
        clientTrust: "trusted",
        anonymous: false,
        users: USERS,
        variables: SECURE_VARIABLES,
      });
      await trustBothWays(peer, pki(), "SignAndEncrypt", "Aes256_Sha256_RsaPss");
    });

    it.each(SECURE_CASES)(
      "%s / %s: the source reads and the writer writes, read back by asyncua's client",
      async (policy, mode) => {
        const sink = new MemorySink();
        const source = new OpcUaSource(
          sourceOptions(peer.endpoint, pki(), stateRules(), {
            securityMode: mode,
            securityPolicy: policy,
            auth: SIDECAR_LOGIN,
          }),
        );
        const writer = writerFor(pki(), {
          security_mode: mode,
          security_policy: policy,
          auth: "username",
          username: "sidecar",
          password: "s3cret",
        });
        try {
          await peer.set(STATE, 1);
          await startAndSettle(source, sink, 2);
          const at = new Date(Date.now() - 1_000);
          await peer.set(ORDER, `WH/MO/${policy}-${mode}`, at);
          await peer.set(STATE, 3, at);
          await sink.waitFor(
            () => sink.ofType("downtime.started").length === 1,
            10_000,
            `downtime over ${policy}/${mode}`,
          );
          expect(sink.ofType("downtime.started")[0]).toMatchObject({
            time: at.toISOString(),
            data: { order: `WH/MO/${policy}-${mode}`, reason_code: "UNKNOWN" },
          });
          await writer.write(secureMessage(peer.endpoint, ++cases, `WO-${policy}-${mode}`));
          expect(writer.floorWrites).toBe(1);
        } finally {
          await writer.close();
          await source.stop();
        }
        // asyncua's own client over the same policy is not needed: the server's address space is the truth.
        expect(await peer.get(Q_ORDER)).toEqual({ value: `WO-${policy}-${mode}`, type: "String" });
        expect(await peer.get(Q_QTY)).toEqual({ value: 10, type: "Double" });
        expect(await peer.activatedUsers()).toContain("sidecar");
      },
    );

    it("X.509 user login with the sidecar's own certificate (Sign, Basic256Sha256)", async () => {
      const sink = new MemorySink();
      const before = (await peer.activatedUsers()).filter((user) => user === "x509").length;
      const source = new OpcUaSource(
        sourceOptions(peer.endpoint, pki(), stateRules(), {
          securityMode: "Sign",
          securityPolicy: "Basic256Sha256",
          auth: {
            type: "certificate",
            certificateFile: clientCertificateFile(pki()),
            privateKeyFile: join(pki(), "own/private/private_key.pem"),
          },
        }),
      );
      try {
        await startAndSettle(source, sink, 2);
      } finally {
        await source.stop();
      }
      expect((await peer.activatedUsers()).filter((user) => user === "x509")).toHaveLength(before + 1);
    });

    it("a wrong password, and an anonymous login the server does not offer, are refused with the login named", async () => {
      const wrong = new OpcUaSource(
        sourceOptions(peer.endpoint, pki(), stateRules(), {
          securityMode: "SignAndEncrypt",
          securityPolicy: "Basic256Sha256",
          auth: { type: "username", username: "sidecar", password: "wrong" },
        }),
      );
      const anonymous = new OpcUaSource(
        sourceOptions(peer.endpoint, pki(), stateRules(), {
          securityMode: "Sign",
          securityPolicy: "Aes128_Sha256_RsaOaep",
        }),
      );
      const writer = writerFor(pki(), {
        security_mode: "SignAndEncrypt",
        security_policy: "Aes256_Sha256_RsaPss",
        auth: "username",
        username: "sidecar",
        password: "wrong",
      });
      try {
        const badPassword = await failure(wrong.start(new MemorySink()));
        expect(badPassword.name).toBe("OpcUaLoginError");
        expect(badPassword.message).toContain(`OPC UA server ${peer.endpoint} refused the username login`);
        expect(badPassword.message).toContain("BadUserAccessDenied");
        // Regression: node-opcua's "Cannot find ANONYMOUS user token policy" was taken for a passing fault,
        // so the source started, retrying for ever in the background a login the server does not offer.
        const startedAt = Date.now();
        const noAnonymous = await failure(anonymous.start(new MemorySink()));
        expect(noAnonymous.name).toBe("OpcUaLoginError");
        expect(noAnonymous.message).toContain(
          `OPC UA server ${peer.endpoint} does not offer the anonymous login on the Sign / Aes128_Sha256_RsaOaep endpoint`,
        );
        expect(Date.now() - startedAt).toBeLessThan(4_000);
        const writeErr = await failure(writer.write(secureMessage(peer.endpoint, 1, "WO-NEVER")));
        expect(writeErr).toBeInstanceOf(FloorWriteError);
        expect((writeErr as FloorWriteError).retryable).toBe(false);
        expect(writeErr.message).toContain("refused the username login");
        expect(writeErr.message).toMatch(/Then retry the message\.$/);
        expect(writer.floorWrites).toBe(0);
      } finally {
        await wrong.stop();
        await anonymous.stop();
        await writer.close();
      }
    });
  });

  it("policies one side lacks: asyncua's Basic256 and Basic128Rsa15 are refused by the sidecar, clearly", async () => {
    const peer = await startPeer({
      policies: ["Basic256_SignAndEncrypt", "Basic128Rsa15_Sign"],
      users: USERS,
      variables: SECURE_VARIABLES,
    });
    const pki = join(dir, "deprecated-client");
    await trustServerCertificate(pki, peer.certificateFile);
    // The sidecar does not offer the deprecated policies at all: a setting naming one is a configuration error.
    const deprecated = new OpcUaSource(
      sourceOptions(peer.endpoint, pki, stateRules(), {
        securityMode: "SignAndEncrypt",
        securityPolicy: "Basic256" as OpcUaSecurityPolicy,
      }),
    );
    // And the server offers none of the sidecar's: asking for one is refused, not downgraded.
    const modern = new OpcUaSource(
      sourceOptions(peer.endpoint, pki, stateRules(), {
        securityMode: "SignAndEncrypt",
        securityPolicy: "Basic256Sha256",
      }),
    );
    const writer = writerFor(pki, { security_mode: "Sign", security_policy: "Basic128Rsa15" as OpcUaSecurityPolicy });
    try {
      const unknown = await failure(deprecated.start(new MemorySink()));
      expect(unknown.name).toBe("ConfigError");
      expect(unknown.message).toContain(
        'opcua_security_policy: unknown security policy "Basic256"; this sidecar supports None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss',
      );
      const offered = await failure(modern.start(new MemorySink()));
      expect(offered.name).toBe("ConfigError");
      expect(offered.message).toContain(
        `OPC UA server ${peer.endpoint} offers no endpoint with security mode SignAndEncrypt and policy Basic256Sha256`,
      );
      const writeErr = (await failure(writer.write(secureMessage(peer.endpoint, 1, "WO-OLD")))) as FloorWriteError;
      expect(writeErr.retryable).toBe(false);
      expect(writeErr.message).toContain('unknown security policy "Basic128Rsa15"');
    } finally {
      await deprecated.stop();
      await modern.stop();
      await writer.close();
    }
  });
});

const T = (name: string) => `ns=2;s=Types/${name}`;
const COUNTER_TYPES = ["UInt16", "UInt32", "Int32", "UInt64", "Int64", "Float", "Double"] as const;
/** A UInt64 counter past 2^32, so the high word counts. */
const COUNTER_START: Partial<Record<(typeof COUNTER_TYPES)[number], bigint | number>> = { UInt64: 2n ** 40n };
const STATE_CASES: { type: AsyncuaType; running: unknown; down: unknown; map: Record<string, string> }[] = [
  { type: "Int16", running: 1, down: 3, map: { "1": "running", "3": "down" } },
  { type: "Int64", running: 1, down: -1, map: { "1": "running", "-1": "down" } },
  { type: "Enum", running: 0, down: 2, map: { "0": "running", "2": "down" } },
  { type: "String", running: "RUN", down: "JAM", map: { RUN: "running", JAM: "down:JAM" } },
];

function typeVariables(): AsyncuaVariable[] {
  return [
    { node: T("Order"), type: "String", value: "WH/MO/T1" },
    // A PLC char array behind a gateway: NUL-padded bytes.
    { node: T("OrderBytes"), type: "ByteString", value: Buffer.from("WH/MO/B1\0\0").toString("base64") },
    ...COUNTER_TYPES.map(
      (type): AsyncuaVariable => ({ node: T(`Counter/${type}`), type, value: COUNTER_START[type] ?? 0 }),
    ),
    ...STATE_CASES.map((c): AsyncuaVariable => ({ node: T(`State/${c.type}`), type: c.type, value: c.running })),
    { node: T("Completed"), type: "Boolean", value: false },
  ];
}

function typeRules(): MappingRule[] {
  let id = 0;
  const source = (name: string) => `plant1/types/${name.toLowerCase()}`;
  return [
    ...COUNTER_TYPES.map(
      (type): MappingRule => ({
        id: ++id,
        kind: "counter",
        protocol: "opcua",
        address: T(`Counter/${type}`),
        source: source(`counter-${type}`),
        event_type: "production.reported",
        params: { order_address: T("Order") },
      }),
    ),
    ...STATE_CASES.map(
      (c): MappingRule => ({
        id: ++id,
        kind: "state",
        protocol: "opcua",
        address: T(`State/${c.type}`),
        source: source(`state-${c.type}`),
        event_type: "",
        params: { value_map: c.map, order_address: T("Order") },
      }),
    ),
    {
      id: ++id,
      kind: "trigger",
      protocol: "opcua",
      address: T("Completed"),
      source: source("trigger"),
      event_type: "workorder.completed",
      params: { fields: { order: T("OrderBytes"), qty_good: T("Counter/Int64") } },
    },
  ];
}

describe("OPC UA source against asyncua: every data type becomes the observations the rules expect", () => {
  it("counters, states and a trigger of each type: deltas, state changes, rising edges, deterministic ids", async () => {
    const peer = await startPeer({ variables: typeVariables() });
    const sink = new MemorySink();
    const rules = typeRules();
    const source = new OpcUaSource(sourceOptions(peer.endpoint, join(dir, "types-client"), rules));
    const base = Date.now() - 60_000;
    const at = (seconds: number) => new Date(base + seconds * 1_000 + 123);
    try {
      await startAndSettle(source, sink, typeVariables().length);
      // Counters: +3, then +4.
      for (const type of COUNTER_TYPES) {
        const start = BigInt(COUNTER_START[type] ?? 0);
        await peer.set(T(`Counter/${type}`), start + 3n, at(1));
        await peer.set(T(`Counter/${type}`), start + 7n, at(2));
      }
      // States: down, then running again.
      for (const c of STATE_CASES) await peer.set(T(`State/${c.type}`), c.down, at(3));
      for (const c of STATE_CASES) await peer.set(T(`State/${c.type}`), c.running, at(4));
      // Trigger: two rising edges (a repeated true is no edge), fields from a ByteString and an Int64.
      await peer.set(T("Completed"), true, at(5));
      await peer.set(T("Completed"), true, at(6));
      await peer.set(T("Completed"), false, at(7));
      await peer.set(T("Counter/Int64"), 9, at(8));
      await peer.set(T("Completed"), true, at(9));
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 2, 15_000, "two completions");
      await sink.waitFor(
        () => sink.ofType("production.reported").length === 2 * COUNTER_TYPES.length + 1,
        5_000,
        "every counter's deltas",
      );

      const id = (rule: MappingRule, time: Date, value: unknown, type: Parameters<typeof derivedEventId>[4]) =>
        derivedEventId("line1-asyncua", rule.address, time, value, type);
      for (const type of COUNTER_TYPES) {
        const rule = rules.find((r) => r.address === T(`Counter/${type}`)) as MappingRule;
        const start = Number(COUNTER_START[type] ?? 0);
        const events = sink.events.filter((e) => e.source === rule.source);
        const expected: [number, Date, number][] = [
          [3, at(1), start + 3],
          [4, at(2), start + 7],
          ...(type === "Int64" ? [[2, at(8), 9] as [number, Date, number]] : []),
        ];
        expect(
          events.map((e) => [e.type, e.data, e.time, e.id]),
          type,
        ).toEqual(
          expected.map(([qty, time, value]) => [
            "production.reported",
            { order: "WH/MO/T1", qty_good: qty },
            time.toISOString(),
            id(rule, time, value, "production.reported"),
          ]),
        );
      }
      for (const c of STATE_CASES) {
        const rule = rules.find((r) => r.address === T(`State/${c.type}`)) as MappingRule;
        const events = sink.events.filter((e) => e.source === rule.source);
        expect(
          events.map((e) => [e.type, e.time, e.data.reason_code]),
          c.type,
        ).toEqual([
          ["downtime.started", at(3).toISOString(), c.type === "String" ? "JAM" : "UNKNOWN"],
          ["downtime.ended", at(4).toISOString(), c.type === "String" ? "JAM" : "UNKNOWN"],
          // Running again with an order known: the work resumes (the downtime ended its time log).
          ["workorder.resumed", at(4).toISOString(), undefined],
        ]);
        expect(events[0]?.id).toBe(id(rule, at(3), c.down, "downtime.started"));
      }
      const trigger = rules.at(-1) as MappingRule;
      expect(sink.ofType("workorder.completed").map((e) => [e.time, e.data, e.id])).toEqual([
        [at(5).toISOString(), { order: "WH/MO/B1", qty_good: 7 }, id(trigger, at(5), true, "workorder.completed")],
        [at(9).toISOString(), { order: "WH/MO/B1", qty_good: 9 }, id(trigger, at(9), true, "workorder.completed")],
      ]);
      expect(source.stats().invalid_values).toBe(0);
      expect(sink.duplicates).toBe(0);
    } finally {
      await source.stop();
    }
  });

  it("property: every value of every type asyncua serves reads back as itself (plainValue)", async () => {
    const { OPCUAClient, AttributeIds } = await import("node-opcua");
    const { plainValue } = await import("./values.ts");
    const int = (bits: number, signed: boolean) =>
      signed
        ? fc.bigInt(-(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n)
        : fc.bigInt(0n, 2n ** BigInt(bits) - 1n);
    const cases: { type: AsyncuaType; values: fc.Arbitrary<unknown>; expected: (v: unknown) => unknown }[] = [
      ...(
        [
          ["SByte", 8, true],
          ["Byte", 8, false],
          ["Int16", 16, true],
          ["UInt16", 16, false],
          ["Int32", 32, true],
          ["UInt32", 32, false],
          ["Int64", 64, true],
          ["UInt64", 64, false],
        ] as const
      ).map(([type, bits, signed]) => ({
        type: type as AsyncuaType,
        values: int(bits, signed),
        expected: (v: unknown) => {
          const big = v as bigint;
          return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
        },
      })),
      { type: "Double", values: fc.double({ noNaN: true, noDefaultInfinity: true }), expected: (v) => v },
      {
        type: "Float",
        values: fc.float({ noNaN: true, noDefaultInfinity: true }),
        expected: (v) => Math.fround(v as number),
      },
      { type: "Boolean", values: fc.boolean(), expected: (v) => v },
      { type: "String", values: fc.string({ unit: "grapheme", maxLength: 40 }), expected: (v) => v },
      {
        type: "ByteString",
        values: fc.string({ unit: "grapheme", maxLength: 40 }).map((text) => text.replace(/\0+$/, "")),
        expected: (v) => v,
      },
    ];
    const peer = await startPeer({
      variables: cases.map((c) => ({
        node: T(`Prop/${c.type}`),
        type: c.type,
        value: c.type === "Boolean" ? false : c.type.endsWith("String") ? "" : 0,
      })),
    });
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
    await client.connect(peer.endpoint);
    const session = await client.createSession();
    try {
      for (const c of cases) {
        await fc.assert(
          fc.asyncProperty(c.values, async (value) => {
            const wire = c.type === "ByteString" ? Buffer.from(value as string).toString("base64") : value;
            await peer.set(
              T(`Prop/${c.type}`),
              c.type === "Float" || c.type === "Double" ? (Object.is(value, -0) ? 0 : value) : wire,
            );
            const [read] = await session.read([{ nodeId: T(`Prop/${c.type}`), attributeId: AttributeIds.Value }]);
            const expected = c.expected(Object.is(value, -0) ? 0 : value);
            expect(plainValue(read?.value as never), `${c.type} ${String(value)}`).toEqual(expected);
          }),
          { numRuns: 25 },
        );
      }
    } finally {
      await session.close();
      await client.disconnect();
    }
  });
});

describe("OPC UA values against asyncua: every other built-in type, arrays, matrices, a structure", () => {
  it("each reads as a plain JSON value: text forms, arrays (not typed arrays), nested rows, the structure's fields", async () => {
    const { OPCUAClient, AttributeIds } = await import("node-opcua");
    const { plainValue } = await import("./values.ts");
    const cases: { type: AsyncuaType; value: unknown; expected: unknown }[] = [
      { type: "Guid", value: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", expected: "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6" },
      { type: "NodeId", value: "ns=2;s=Line1/Press", expected: "ns=2;s=Line1/Press" },
      { type: "QualifiedName", value: "2:Counter", expected: "2:Counter" },
      { type: "StatusCode", value: "BadOutOfRange", expected: "BadOutOfRange" },
      { type: "XmlElement", value: "<count unit='pcs'>7</count>", expected: "<count unit='pcs'>7</count>" },
      { type: "Double[]", value: [1.5, -2, 3e300], expected: [1.5, -2, 3e300] },
      { type: "Float[]", value: [0.1], expected: [Math.fround(0.1)] },
      { type: "Byte[]", value: [0, 255], expected: [0, 255] },
      { type: "SByte[]", value: [-128, 127], expected: [-128, 127] },
      { type: "UInt16[]", value: [65535], expected: [65535] },
      { type: "Int32[]", value: [-5, 7], expected: [-5, 7] },
      { type: "UInt32[]", value: [4294967295], expected: [4294967295] },
      { type: "Int64[]", value: [9007199254740993n, -1], expected: [9007199254740993n, -1] },
      { type: "UInt64[]", value: [18446744073709551615n, 0], expected: [18446744073709551615n, 0] },
      { type: "Boolean[]", value: [true, false], expected: [true, false] },
      { type: "String[]", value: ["a", "Öl"], expected: ["a", "Öl"] },
      { type: "LocalizedText[]", value: ["Presse"], expected: ["Presse"] },
      { type: "ByteString[]", value: [Buffer.from("WO-1\0").toString("base64")], expected: ["WO-1"] },
      {
        type: "DateTime[]",
        value: ["2026-12-03T05:00:00Z"],
        expected: [new Date("2026-12-03T05:00:00Z")],
      },
      {
        type: "Int32[,]",
        value: { dims: [2, 3], values: [1, 2, 3, 4, 5, 6] },
        expected: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      {
        type: "Double[,]",
        value: { dims: [2, 1, 2], values: [1, 2, 3, 4] },
        expected: [[[1, 2]], [[3, 4]]],
      },
      { type: "Range", value: { low: 1.5, high: 9 }, expected: { low: 1.5, high: 9 } },
    ];
    const node = (type: string) => T(`Other/${type.replace(/\W/g, "_")}`);
    const peer = await startPeer({
      variables: cases.map((c) => ({ node: node(c.type), type: c.type, value: c.value })),
    });
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
    await client.connect(peer.endpoint);
    const session = await client.createSession();
    try {
      const reads = await session.read(cases.map((c) => ({ nodeId: node(c.type), attributeId: AttributeIds.Value })));
      const got = Object.fromEntries(cases.map((c, i) => [c.type, plainValue(reads[i]?.value as never)]));
      expect(got).toEqual(Object.fromEntries(cases.map((c) => [c.type, c.expected])));
      // JSON-faithful: what an event carries is what the node holds (bigints as their digits).
      const json = JSON.stringify(got, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
      expect(JSON.parse(json)["Int32[,]"]).toEqual([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(JSON.parse(json)["Byte[]"]).toEqual([0, 255]);
    } finally {
      await session.close();
      await client.disconnect();
    }
  });
});

describe("OPC UA source against asyncua: the server crashes mid-shift", () => {
  it("killed and restarted while the line counts on: subscription re-created, nothing lost, nothing doubled", async () => {
    const line = new Line("Line1", [MACHINE]);
    const ledger = new Ledger("asyncua-crash", "Line1", [MACHINE]);
    // The counters as 64-bit tags and the state as an Int16, as other PLCs hold them.
    const server = new AsyncuaLineServer(
      line,
      { port: await freePort(), pkiDir: join(dir, "crash-server") },
      { GoodCount: "UInt64", ScrapCount: "Int64", State: "Int16" },
    );
    const sim = new Simulation(line, ledger, { stepMs: 40, pulseMs: 600 });
    sim.outputs.push(server);
    await sim.start();
    const sink = new MemorySink();
    const source = new OpcUaSource(sourceOptions(server.endpoint, join(dir, "crash-client"), lineRulesOpcua()));
    try {
      await startAndSettle(source, sink, 8);
      await sim.startOrder(MACHINE, "WH/MO/00012", "Pressing");
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 5, 1);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 5, 10_000, "5 parts before the crash");
      // SIGKILL: no goodbye to the client. Down for 1.5 s while the machine makes 7 parts and jams.
      await Promise.all([
        sim.restartOutputs(1_500),
        (async () => {
          await sim.produce(MACHINE, 7, 1);
          await sim.setState(MACHINE, "down", "JAM");
        })(),
      ]);
      await expect.poll(() => source.stats().sessions, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(2);
      await sim.step(5);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 20_000, "completion after the crash");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 15, 5_000, "15 parts");
      expect(ledger.serverRestarts).toBe(1);
      expect(source.stats().reconnects).toBeGreaterThanOrEqual(1);
      expect(ledger.orders.get("WH/MO/00012")).toMatchObject({ good: 15, scrap: 2 });
      expectSinkMatchesLedger(sink, ledger, "WH/MO/00012");
      expect(sink.ofType("workorder.completed")[0]?.data).toEqual({
        order: "WH/MO/00012",
        operation: "Pressing",
        qty_good: 15,
        qty_scrap: 2,
      });
    } finally {
      await source.stop();
      await sim.stop();
    }
  });
});

describe("OPC UA source against asyncua: the server stops answering (frozen with SIGSTOP)", () => {
  it("takes the silent server for gone, and reads on once it answers: nothing lost, nothing doubled", async () => {
    // A frozen host or VM: its port stays open, nothing is refused or reset, nothing answered.
    const line = new Line("Line1", [MACHINE]);
    const ledger = new Ledger("asyncua-frozen", "Line1", [MACHINE]);
    const server = new AsyncuaLineServer(line, { port: await freePort(), pkiDir: join(dir, "frozen-server") });
    const sim = new Simulation(line, ledger, { stepMs: 40, pulseMs: 600 });
    sim.outputs.push(server);
    await sim.start();
    const sink = new MemorySink();
    const logs: string[] = [];
    const source = new OpcUaSource(
      sourceOptions(server.endpoint, join(dir, "frozen-client"), lineRulesOpcua(), {
        log: (level, message) => logs.push(`${level} ${message}`),
      }),
    );
    try {
      await startAndSettle(source, sink, 8);
      await sim.startOrder(MACHINE, "WH/MO/00013", "Pressing");
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 5, 1);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 5, 10_000, "5 parts before the freeze");
      server.peer.freeze();
      try {
        // node-opcua's client gives up on the silent channel by its own timeouts, within this poll's minute: a session and subscription follow.
        await expect.poll(() => source.connected, { timeout: 60_000, interval: 100 }).toBe(false);
        expect(logs.join("\n")).toMatch(/connection lost; re-creating session and subscription/);
      } finally {
        server.peer.thaw();
      }
      await sim.produce(MACHINE, 7, 1);
      await sim.setState(MACHINE, "down", "JAM");
      await expect.poll(() => source.connected, { timeout: 30_000, interval: 100 }).toBe(true);
      await sim.step(5);
      await sim.setState(MACHINE, "running");
      await sim.produce(MACHINE, 3);
      await sim.complete(MACHINE);
      await sink.waitFor(() => sink.ofType("workorder.completed").length === 1, 20_000, "completion after the freeze");
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") >= 15, 5_000, "15 parts");
      expect(ledger.orders.get("WH/MO/00013")).toMatchObject({ good: 15, scrap: 2 });
      expectSinkMatchesLedger(sink, ledger, "WH/MO/00013");
    } finally {
      await source.stop();
      await sim.stop();
    }
  }, 180_000);
});

const F = (name: string) => `ns=2;s=Floor/${name}`;
/** Slot field → node type, per slot: every type the writer writes appears at least once. */
const SLOT_TYPES: Record<string, AsyncuaType>[] = [
  { order: "String", product: "String", qty: "Double", priority: "Int32", start: "DateTime" },
  { order: "ByteString", product: "LocalizedText", qty: "Float", priority: "Boolean", start: "String" },
  { order: "String", qty: "Int16", priority: "Byte", start: "DateTime" },
  { order: "String", qty: "UInt16", priority: "SByte" },
  { order: "String", qty: "Int64", priority: "UInt32" },
  { order: "String", qty: "UInt64", priority: "UInt16" },
];
const INITIAL: Partial<Record<AsyncuaType, unknown>> = {
  String: "",
  ByteString: "",
  LocalizedText: "",
  Boolean: true,
  DateTime: "2000-01-01T00:00:00Z",
};

function floorVariables(): AsyncuaVariable[] {
  return [
    ...SLOT_TYPES.flatMap((fields, slot) =>
      Object.entries(fields).map(
        ([field, type]): AsyncuaVariable => ({
          node: F(`Queue/${slot}/${field}`),
          type,
          value: INITIAL[type] ?? 99,
          writable: true,
        }),
      ),
    ),
    { node: F("QueueJson"), type: "String", value: "", writable: true },
    { node: F("Version"), type: "UInt64", value: 0, writable: true },
    { node: F("Numeric/Order"), type: "Int32", value: 0, writable: true },
    { node: F("Plc/Order"), type: "String", value: "PLC-OWNED" },
  ];
}

function floorParams(endpoint: string, override: Record<string, string> = {}) {
  return {
    endpoint,
    slots: SLOT_TYPES.map((fields, slot) =>
      Object.fromEntries(
        Object.keys(fields).map((field) => [field, override[`${slot}/${field}`] ?? F(`Queue/${slot}/${field}`)]),
      ),
    ),
    queue_json: F("QueueJson"),
    version: F("Version"),
  };
}

const ORDERS = ["WH/MO/00101", "WH/MO/00102", "WH/MO/00103", "WH/MO/00104", "WH/MO/00105", "WH/MO/00106"];

describe("OPC UA floor writer against asyncua", () => {
  let peer: AsyncuaPeer;
  const pki = () => join(dir, "floor-client");
  beforeAll(async () => {
    peer = await startPeer({ variables: floorVariables() });
  });

  it("a dispatch message lands in variables of every type it writes, as asyncua's own client reads them", async () => {
    const writer = writerFor(pki());
    const message = queueMessage("WC-TYPES", 7, ORDERS, { kind: "opcua", params: floorParams(peer.endpoint) }, 6);
    try {
      await writer.write(message);
    } finally {
      await writer.close();
    }
    const nodes = floorVariables().map((v) => v.node);
    const read = await readWithAsyncua(peer.endpoint, nodes);
    const queue = (message.payload as { queue: Record<string, unknown>[] }).queue;
    const expected = (type: AsyncuaType, value: unknown) => {
      if (type === "ByteString") return Buffer.from(String(value)).toString("base64");
      if (type === "DateTime") return new Date(String(value)).toISOString().replace(".000Z", "Z");
      if (type === "Boolean") return value === 1;
      if (type === "String" || type === "LocalizedText") return String(value);
      return value;
    };
    SLOT_TYPES.forEach((fields, slot) => {
      for (const [field, type] of Object.entries(fields)) {
        const node = F(`Queue/${slot}/${field}`);
        expect(read[node], node).toEqual({
          value: expected(type, queue[slot]?.[field]),
          type: type === "LocalizedText" ? "LocalizedText" : type,
          status: "Good",
        });
      }
    });
    expect(read[F("Version")]).toEqual({ value: 7, type: "UInt64", status: "Good" });
    expect(JSON.parse(String(read[F("QueueJson")]?.value))).toMatchObject({ version: 7, workcenter: "WC-TYPES" });
  });

  it("a version older than the one in the 64-bit version tag is not written (a new writer, no version file)", async () => {
    // Regression: the UInt64 tag's value came back as [high, low], Number() of that is NaN, and the check was skipped.
    const stale = writerFor(pki());
    try {
      await stale.write(
        queueMessage("WC-TYPES", 6, ["WH/MO/OLD"], { kind: "opcua", params: floorParams(peer.endpoint) }, 6),
      );
      expect(stale.floorWrites).toBe(0);
      const read = await readWithAsyncua(peer.endpoint, [F("Queue/0/order"), F("Version")]);
      expect(read[F("Queue/0/order")]?.value).toBe(ORDERS[0]);
      expect(read[F("Version")]?.value).toBe(7);
      await stale.write(
        queueMessage("WC-TYPES", 8, ["WH/MO/NEW"], { kind: "opcua", params: floorParams(peer.endpoint) }, 6),
      );
      expect(stale.floorWrites).toBe(1);
      expect((await peer.get(F("Queue/0/order"))).value).toBe("WH/MO/NEW");
      expect((await peer.get(F("Version"))).value).toBe(8);
    } finally {
      await stale.close();
    }
  });

  it("a wrong node id, a value the node's type cannot hold, a read-only node: a clear error, nothing retried", async () => {
    const writer = writerFor(pki());
    const attempt = async (override: Record<string, string>, order: string) =>
      (await failure(
        writer.write(
          queueMessage(
            "WC-BAD",
            20,
            [order],
            { kind: "opcua", params: { ...floorParams(peer.endpoint, override), version: "" } },
            6,
          ),
        ),
      )) as FloorWriteError;
    try {
      const before = await readWithAsyncua(peer.endpoint, [F("Queue/0/product"), F("Version")]);
      const unknown = await attempt({ "0/order": F("Nope/Order") }, "WH/MO/00201");
      expect(unknown).toBeInstanceOf(FloorWriteError);
      expect(unknown.retryable).toBe(false);
      expect(unknown.message).toContain(`BadNodeIdUnknown (read ${F("Nope/Order")}: BadNodeIdUnknown)`);

      // Regression: an order ref into an Int32 node was written as 0 and read back as "matching".
      const wrongType = await attempt({ "0/order": F("Numeric/Order") }, "WH/MO/00202");
      expect(wrongType.retryable).toBe(false);
      expect(wrongType.message).toBe(
        `BadTypeMismatch (cannot write ${F("Numeric/Order")}: "WH/MO/00202" is not an integer, and the node is Int32)`,
      );
      expect((await peer.get(F("Numeric/Order"))).value).toBe(0);

      const readOnly = await attempt({ "0/order": F("Plc/Order") }, "WH/MO/00203");
      expect(readOnly.retryable).toBe(false);
      expect(readOnly.message).toContain(`BadUserAccessDenied (write ${F("Plc/Order")}: BadUserAccessDenied)`);
      expect((await peer.get(F("Plc/Order"))).value).toBe("PLC-OWNED");
      expect(writer.floorWrites).toBe(0);

      // The refused type was caught before any write; the other two failed at the server, slot by slot.
      const after = await readWithAsyncua(peer.endpoint, [F("Queue/0/product"), F("Version")]);
      expect(after[F("Version")]).toEqual(before[F("Version")]);
    } finally {
      await writer.close();
    }
  });
});

// The peer's tag namespace, as asyncua_server.py registers it (index 2 there).
const TAGS_URI = "urn:shopfloor-bridge:test:asyncua-peer:tags";
const U = (name: string) => `nsu=${TAGS_URI};s=Nsu/${name}`;

describe("OPC UA against asyncua: nodes named by namespace URI (nsu=), as the server's namespace table has them", () => {
  it("a rule and its order tag by URI read; an unknown URI is left out and said, with the server's namespaces", async () => {
    const peer = await startPeer({
      variables: [
        { node: "ns=2;s=Nsu/Count", type: "UInt32", value: 10 },
        { node: "ns=2;s=Nsu/Order", type: "String", value: "WH/MO/NSU1" },
      ],
    });
    const sink = new MemorySink();
    const counter: MappingRule = {
      id: 1,
      kind: "counter",
      protocol: "opcua",
      address: U("Count"),
      source: "plant1/nsu/press",
      event_type: "production.reported",
      params: { order_address: U("Order") },
    };
    const elsewhere: MappingRule = {
      ...counter,
      id: 2,
      address: "nsu=urn:nowhere;s=Nsu/Count",
      source: "plant1/nsu/x",
    };
    const source = new OpcUaSource(sourceOptions(peer.endpoint, join(dir, "nsu-client"), [counter, elsewhere]));
    try {
      await startAndSettle(source, sink, 2);
      await peer.set("ns=2;s=Nsu/Count", 13);
      await sink.waitFor(() => sink.sum("production.reported", "qty_good") === 3, 10_000, "3 parts");
      expect(sink.ofType("production.reported").map((e) => [e.source, e.data])).toEqual([
        ["plant1/nsu/press", { order: "WH/MO/NSU1", qty_good: 3 }],
      ]);
      expect(source.stats().bad_items).toBe(1);
      expect(source.warning).toBe(
        "1 address is not monitored (check the mapping rules): " +
          '"nsu=urn:nowhere;s=Nsu/Count": the server has no namespace "urn:nowhere" ' +
          `(its namespaces: 0 http://opcfoundation.org/UA/, 1 urn:shopfloor-bridge:test:asyncua-peer, 2 ${TAGS_URI})`,
      );
    } finally {
      await source.stop();
    }
  });

  it("the floor writer writes nodes named by URI, as asyncua's own client reads them", async () => {
    const peer = await startPeer({
      variables: [
        { node: "ns=2;s=Nsu/QueueJson", type: "String", value: "", writable: true },
        { node: "ns=2;s=Nsu/Version", type: "UInt64", value: 0, writable: true },
      ],
    });
    const writer = writerFor(join(dir, "nsu-writer"));
    const params = { endpoint: peer.endpoint, slots: [], queue_json: U("QueueJson"), version: U("Version") };
    try {
      await writer.write(queueMessage("WC-NSU", 5, ORDERS.slice(0, 2), { kind: "opcua", params }, 2));
      const bad = { ...params, version: "nsu=urn:nowhere;s=Nsu/Version" };
      const refused = await writer
        .write(queueMessage("WC-NSU", 6, ORDERS.slice(0, 2), { kind: "opcua", params: bad }, 2))
        .catch((err: Error) => err);
      expect(refused).toBeInstanceOf(FloorWriteError);
      expect((refused as FloorWriteError).retryable).toBe(false);
      expect((refused as Error).message).toMatch(/the server has no namespace "urn:nowhere"/);
      // An endpoint that is none fails at once, not retried (node-opcua would retry it for ever).
      const nowhere = await writer
        .write(
          queueMessage(
            "WC-NSU",
            7,
            ORDERS.slice(0, 2),
            { kind: "opcua", params: { ...params, endpoint: "gw:4840" } },
            2,
          ),
        )
        .catch((err: Error) => err);
      expect(nowhere).toBeInstanceOf(FloorWriteError);
      expect((nowhere as FloorWriteError).retryable).toBe(false);
      expect((nowhere as Error).message).toBe(
        'OPC UA target: "gw:4840" is not an OPC UA endpoint: write opc.tcp://plc-gateway:4840 ' +
          "(or with a path: opc.tcp://ignition:62541/discovery)",
      );
    } finally {
      await writer.close();
    }
    const read = await readWithAsyncua(peer.endpoint, ["ns=2;s=Nsu/QueueJson", "ns=2;s=Nsu/Version"]);
    expect(read["ns=2;s=Nsu/Version"]?.value).toBe(5);
    expect(
      JSON.parse(String(read["ns=2;s=Nsu/QueueJson"]?.value)).queue.map((row: { order: string }) => row.order),
    ).toEqual(ORDERS.slice(0, 2));
  });
});
