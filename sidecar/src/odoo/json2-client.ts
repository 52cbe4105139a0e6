// OdooClient over the JSON-2 API of Odoo 19 and later: `POST
// /json/2/<model>/<method>` with the API key as a bearer token, the database
// in `X-Odoo-Database`, the method's parameters by name in the body. Errors
// come as 4xx/5xx with Odoo's serialized exception (name, message, context)
// as the body; the module's error code travels in its context as with
// JSON-RPC.
import { BaseOdooClient, type OdooConnectionOptions } from "./client.ts";
import { codeOfHttpStatus, codeOfServerError, OdooAuthError, OdooFault, OdooTransportError } from "./errors.ts";

interface Json2Error {
  name?: string;
  message?: string;
  context?: unknown;
}

export class Json2OdooClient extends BaseOdooClient {
  constructor(opts: OdooConnectionOptions) {
    super(opts);
  }

  protected async call(model: string, method: string, args: unknown[], params: readonly string[]): Promise<unknown> {
    if (args.length > params.length)
      throw new Error(`${model}.${method}: ${args.length} arguments, ${params.length} names`);
    const body = Object.fromEntries(params.slice(0, args.length).map((name, i) => [name, args[i]]));
    const answer = await this.postJson(`/json/2/${model}/${method}`, body, {
      authorization: `bearer ${this.opts.apiKey}`,
      "x-odoo-database": this.opts.db,
      "user-agent": "shopfloor-sidecar",
    });
    if (answer.status === 200) return answer.body;
    const error = (
      answer.body && typeof answer.body === "object" ? answer.body : { message: answer.body }
    ) as Json2Error;
    const message = typeof error.message === "string" ? error.message : `HTTP ${answer.status}`;
    if (answer.status === 401) {
      throw new OdooAuthError(
        `Odoo refused the API key of "${this.opts.user}" on database "${this.opts.db}" (check ODOO_API_KEY): ${message}`,
      );
    }
    // An exception Odoo serialized is a fault; anything else (a proxy's 502, a killed worker) is transport.
    if (typeof error.name === "string") throw new OdooFault(message, codeOfServerError(error), error.name);
    throw new OdooTransportError(
      `HTTP ${answer.status} from ${model}.${method}: ${message.slice(0, 200)}`,
      codeOfHttpStatus(answer.status),
      answer.status,
    );
  }
}
