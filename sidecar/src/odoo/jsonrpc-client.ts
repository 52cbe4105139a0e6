// OdooClient over Odoo's JSON-RPC (`/jsonrpc`, services `common` and
// `object`), the external API of Odoo 18, with an API key as the password.
// JSON carries every string the floor sends (XML 1.0 cannot carry most C0
// controls, which is why XML-RPC was retired here).
import { BaseOdooClient, type OdooConnectionOptions } from "./client.ts";
import {
  codeOfHttpStatus,
  codeOfServerError,
  OdooAuthError,
  OdooContractError,
  OdooFault,
  OdooTransportError,
} from "./errors.ts";

export { OdooAuthError, OdooFault, OdooTransportError } from "./errors.ts";

interface JsonRpcError {
  code?: number;
  message?: string;
  data?: { name?: string; message?: string; context?: unknown; arguments?: unknown };
}

export class JsonRpcOdooClient extends BaseOdooClient {
  #uid: number | undefined;
  #nextId = 1;

  constructor(opts: OdooConnectionOptions) {
    super(opts);
  }

  async #rpc(service: "common" | "object", method: string, args: unknown[]): Promise<unknown> {
    const id = this.#nextId++;
    const answer = await this.postJson("/jsonrpc", {
      jsonrpc: "2.0",
      method: "call",
      params: { service, method, args },
      id,
    });
    const body = answer.body as { result?: unknown; error?: JsonRpcError } | null;
    if (answer.status !== 200 || !body || typeof body !== "object") {
      throw new OdooTransportError(
        `HTTP ${answer.status} from ${service}.${method}`,
        codeOfHttpStatus(answer.status),
        answer.status,
      );
    }
    if (body.error) {
      const data = body.error.data;
      const name = data?.name ?? "";
      if (name === "odoo.exceptions.AccessDenied") {
        throw new OdooAuthError(
          `Odoo refused login "${this.opts.user}" on database "${this.opts.db}" (check ODOO_USER / ODOO_API_KEY)`,
        );
      }
      const message = data?.message ?? body.error.message ?? "Odoo raised an error without a message";
      throw new OdooFault(message, codeOfServerError(data), name);
    }
    // Odoo leaves `result` out when a method returns None, which the contract forbids.
    if (!("result" in body)) throw new OdooContractError(`${service}.${method} answered no result`);
    return body.result;
  }

  async uid(): Promise<number> {
    if (this.#uid !== undefined) return this.#uid;
    const o = this.opts;
    let uid: unknown;
    try {
      uid = await this.#rpc("common", "authenticate", [o.db, o.user, o.apiKey, {}]);
    } catch (err) {
      // An unknown database is raised while opening its registry.
      if (err instanceof OdooFault && /database .* does not exist|FATAL/i.test(err.message)) {
        throw new OdooAuthError(`Odoo has no database "${o.db}" (check ODOO_DB): ${err.message.split("\n")[0]}`);
      }
      throw err;
    }
    if (typeof uid !== "number" || uid <= 0) {
      throw new OdooAuthError(`Odoo refused login "${o.user}" on database "${o.db}" (check ODOO_USER / ODOO_API_KEY)`);
    }
    this.#uid = uid;
    return uid;
  }

  /** Any model method, `execute_kw` style (tests and tools use it as admin). */
  async execute(
    model: string,
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ): Promise<unknown> {
    const uid = await this.uid();
    return this.#rpc("object", "execute_kw", [this.opts.db, uid, this.opts.apiKey, model, method, args, kwargs]);
  }

  protected call(model: string, method: string, args: unknown[]): Promise<unknown> {
    return this.execute(model, method, args);
  }
}
