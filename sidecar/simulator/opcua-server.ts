// An Ignition-like OPC UA server over the simulated line: machine tags at
// `ns=2;s=[default]<Line>/<Machine>/<Tag>` (read-only, as PLC-driven tags
// are) and writable planning tags at `ns=2;s=[default]Shopfloor/<Line>/Queue/<n>/<Field>`
// plus `.../QueueJson`. Tag changes are pushed with the line's source
// timestamps. Security: None, Sign and SignAndEncrypt (Basic256Sha256,
// Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss); anonymous, user/password and
// X.509 users (any user certificate, or only trusted ones). The server can be restarted
// (a new server object on the same port and PKI) while the line keeps running.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AccessLevelFlag,
  DataType,
  MessageSecurityMode,
  type Namespace,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAVariable,
  Variant,
} from "node-opcua";
import { type Line, PLANNING_FIELDS, TAG_NAMES, TAG_TYPES, type TagChange, tagPath } from "./line.ts";
import { type SimOutput, sleep } from "./simulation.ts";

export interface SimOpcuaServerOptions {
  line: Line;
  port: number;
  /** Holds `server/` (its certificate, created on first run) and `users/` PKI stores. */
  pkiDir: string;
  users?: { username: string; password: string }[];
  allowAnonymous?: boolean;
  /** Security modes offered; default all three. */
  securityModes?: ("None" | "Sign" | "SignAndEncrypt")[];
  /** Security policies offered beside None when a secure mode is; default all three. */
  securityPolicies?: SecurePolicy[];
  /**
   * Which X.509 users may log in: any certificate (the default, a simulator's
   * ease), or only those trusted in `users/` (`trustUserCertificate`), as a
   * real server does.
   */
  userCertificates?: "any" | "trusted";
}

export const SECURE_POLICIES = ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const;
export type SecurePolicy = (typeof SECURE_POLICIES)[number];

const DATA_TYPES = {
  Int32: DataType.Int32,
  UInt32: DataType.UInt32,
  String: DataType.String,
  Boolean: DataType.Boolean,
} as const;

export class SimOpcuaServer implements SimOutput {
  readonly name = "opcua";
  readonly #opts: SimOpcuaServerOptions;
  #server: OPCUAServer | undefined;
  readonly #variables = new Map<string, UAVariable>();
  #unsubscribe: (() => void) | undefined;
  #userCertificateManager: OPCUACertificateManager | undefined;
  readonly #counts = { restarts: 0, planning_writes: 0, tag_changes: 0 };

  constructor(opts: SimOpcuaServerOptions) {
    this.#opts = opts;
  }

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.#opts.port}/UA/SimLine`;
  }

  /** The server's certificate (PEM), created in the PKI folder on first start. */
  get certificateFile(): string {
    return join(this.#opts.pkiDir, "server/own/certs/certificate.pem");
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  async start(): Promise<void> {
    const serverCertificateManager = new OPCUACertificateManager({
      rootFolder: join(this.#opts.pkiDir, "server"),
      // A simulator trusts any client; the sidecar's trust of the server is what is tested.
      automaticallyAcceptUnknownCertificate: true,
      disableFileWatchers: true,
    });
    const userCertificateManager = new OPCUACertificateManager({
      rootFolder: join(this.#opts.pkiDir, "users"),
      automaticallyAcceptUnknownCertificate: (this.#opts.userCertificates ?? "any") === "any",
      disableFileWatchers: true,
    });
    this.#userCertificateManager = userCertificateManager;
    const users = this.#opts.users ?? [];
    const modes = (this.#opts.securityModes ?? ["None", "Sign", "SignAndEncrypt"]).map((m) => MessageSecurityMode[m]);
    const server = new OPCUAServer({
      port: this.#opts.port,
      resourcePath: "/UA/SimLine",
      alternateHostname: ["127.0.0.1"],
      buildInfo: { productName: "Shopfloor Bridge line simulator", manufacturerName: "shopfloor-bridge" },
      securityModes: modes,
      securityPolicies: modes.some((m) => m !== MessageSecurityMode.None)
        ? [SecurityPolicy.None, ...(this.#opts.securityPolicies ?? SECURE_POLICIES).map((p) => SecurityPolicy[p])]
        : [SecurityPolicy.None],
      allowAnonymous: this.#opts.allowAnonymous ?? true,
      serverCertificateManager,
      userCertificateManager,
      userManager: { isValidUser: (u: string, p: string) => users.some((x) => x.username === u && x.password === p) },
      disableDiscovery: true,
      // Advertising 0 makes exception-based items report every change, not one per 50 ms window.
      serverCapabilities: { maxSessions: 50, minSupportedSampleRate: 0 },
    });
    await server.initialize();
    this.#build(server);
    // Follow the line from the values the address space was built with: a change
    // while the server starts (it takes a while) is served once it has.
    this.#unsubscribe = this.#opts.line.onChange((change) => this.#push(change));
    try {
      await server.start();
    } catch (error) {
      this.#detach();
      throw error;
    }
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#detach();
    if (server) await server.shutdown(0);
  }

  /** Stops following the line and forgets the server and its address space. */
  #detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#server = undefined;
    this.#userCertificateManager = undefined;
    this.#variables.clear();
  }

  /** The open sessions: the channel's policy and mode, and the kind of user token that activated it. */
  sessions(): { securityPolicy: string; securityMode: string; userToken: string }[] {
    return (this.#server?.engine.getSessions() ?? []).map((session) => ({
      securityPolicy: (session.channel?.securityPolicy ?? "").split("#")[1] ?? "",
      securityMode: MessageSecurityMode[session.channel?.securityMode ?? MessageSecurityMode.Invalid] ?? "",
      userToken: session.userIdentityToken?.constructor.name ?? "",
    }));
  }

  /** Trusts a user certificate (PEM) for X.509 login, as a server's admin does; needs a running server. */
  async trustUserCertificate(certificateFile: string): Promise<void> {
    const manager = this.#userCertificateManager;
    if (!this.#server || !manager) throw new Error("the OPC UA server is not running");
    await manager.trustCertificate(new X509Certificate(readFileSync(certificateFile)).raw);
  }

  /** Shuts the server down, waits `downMs` (the line keeps producing), starts a fresh one. */
  async restart(downMs: number): Promise<boolean> {
    await this.stop();
    await sleep(downMs);
    await this.start();
    this.#counts.restarts++;
    return true;
  }

  stats(): Record<string, number> {
    return { ...this.#counts };
  }

  #build(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error("OPC UA server has no address space");
    // Ignition's tag provider lives in namespace 2: register one to sit there.
    let ns: Namespace = addressSpace.getOwnNamespace();
    while (ns.index < 2) ns = addressSpace.registerNamespace(`urn:shopfloor-bridge:sim:ns${ns.index + 1}`);
    const line = this.#opts.line;
    const objects = addressSpace.rootFolder.objects;
    const tagsFolder = ns.addFolder(objects, { browseName: "Tags", nodeId: "s=[default]" });
    const lineFolder = ns.addFolder(tagsFolder, { browseName: line.name, nodeId: `s=[default]${line.name}` });
    for (const machine of line.machines) {
      const folder = ns.addFolder(lineFolder, { browseName: machine, nodeId: `s=[default]${line.name}/${machine}` });
      for (const tag of TAG_NAMES) {
        const variable = ns.addVariable({
          componentOf: folder,
          browseName: tag,
          nodeId: `s=${tagPath(line.name, machine, tag)}`,
          dataType: TAG_TYPES[tag],
          accessLevel: AccessLevelFlag.CurrentRead,
          userAccessLevel: AccessLevelFlag.CurrentRead,
          minimumSamplingInterval: 0,
        });
        variable.setValueFromSource(
          new Variant({ dataType: DATA_TYPES[TAG_TYPES[tag]], value: line.tags(machine)[tag] }),
          StatusCodes.Good,
          line.timeOf(machine, tag),
        );
        this.#variables.set(`${machine}/${tag}`, variable);
      }
    }
    const planning = ns.addFolder(tagsFolder, { browseName: "Shopfloor", nodeId: "s=[default]Shopfloor" });
    const linePlanning = ns.addFolder(planning, {
      browseName: line.name,
      nodeId: `s=[default]Shopfloor/${line.name}`,
    });
    const writable = (
      parent: Parameters<Namespace["addFolder"]>[0],
      path: string,
      field: string,
      type: "String" | "Double",
    ) => {
      const variable = ns.addVariable({
        componentOf: parent,
        browseName: field,
        nodeId: `s=${path}`,
        dataType: type,
        accessLevel: AccessLevelFlag.CurrentRead | AccessLevelFlag.CurrentWrite,
        userAccessLevel: AccessLevelFlag.CurrentRead | AccessLevelFlag.CurrentWrite,
        minimumSamplingInterval: 0,
      });
      const initial = line.planning.get(path) ?? (type === "String" ? "" : 0);
      variable.setValueFromSource(
        new Variant({ dataType: type === "String" ? DataType.String : DataType.Double, value: initial }),
      );
      variable.on("value_changed", (dataValue) => {
        const value = dataValue.value.value as string | number;
        if (line.planning.get(path) !== value) {
          line.planning.set(path, value);
          this.#counts.planning_writes++;
        }
      });
    };
    for (let slot = 0; slot < line.queueSize; slot++) {
      const slotFolder = ns.addFolder(linePlanning, {
        browseName: `Queue${slot}`,
        nodeId: `s=[default]Shopfloor/${line.name}/Queue/${slot}`,
      });
      for (const field of PLANNING_FIELDS) {
        const path = `[default]Shopfloor/${line.name}/Queue/${slot}/${field}`;
        writable(slotFolder, path, field, field === "Qty" || field === "Priority" ? "Double" : "String");
      }
    }
    writable(linePlanning, `[default]Shopfloor/${line.name}/QueueJson`, "QueueJson", "String");
  }

  #push(change: TagChange): void {
    const variable = this.#variables.get(`${change.machine}/${change.tag}`);
    if (!variable) return;
    this.#counts.tag_changes++;
    variable.setValueFromSource(
      new Variant({ dataType: DATA_TYPES[TAG_TYPES[change.tag]], value: change.value }),
      StatusCodes.Good,
      change.time,
    );
  }
}
