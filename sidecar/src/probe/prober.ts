// Answers what an admin asks of the floor from Odoo (browse an OPC UA node,
// read a node or a PLC address once). Odoo cannot reach the plant network,
// so the sidecar pulls the questions (`shopfloor.probe.pull`) at the pace
// Odoo names — quick while someone is asking, slow otherwise — and answers
// each one as soon as it is done (`shopfloor.probe.answer`). A failure on
// the floor is an answer too; a question never waits for a slower one.
import { backoffDelay } from "../core/backoff.ts";
import type { OdooClient, ProbeAnswer, ProbeErrorCode, ProbeRequest } from "../core/ports.ts";

/** A failure the form shows as it is, with its kind. */
export class ProbeError extends Error {
  override name = "ProbeError";
  readonly code: ProbeErrorCode;
  constructor(code: ProbeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a connection kind can answer: OPC UA browses and reads, a PLC reads. */
export interface ProbeHandler {
  browse?(target: string): Promise<unknown>;
  read(target: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface ProberLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ProberOptions {
  odoo: Pick<OdooClient, "probePull" | "probeAnswer">;
  connection: string;
  handler: ProbeHandler;
  /** Used until Odoo names a pace, and after a failed pull as the backoff's base. */
  pollIntervalMs?: number;
  /** One question may take this long on the floor; then it is answered `timeout` (Odoo gives up at 30 s). */
  answerTimeoutMs?: number;
  maxBackoffMs?: number;
  log?: ProberLogger;
}

export interface ProberStats {
  pulls: number;
  answered: number;
  failed: number;
  transportErrors: number;
  lastError: string;
}

const DEFAULT_POLL_MS = 1_000;
const DEFAULT_ANSWER_TIMEOUT_MS = 20_000;

/** The answer of a thrown error: a ProbeError keeps its code, anything else is `failed` with its message. */
export function failureAnswer(id: number, err: unknown): ProbeAnswer {
  if (err instanceof ProbeError) return { id, ok: false, code: err.code, error: err.message };
  return { id, ok: false, code: "failed", error: (err as Error)?.message || String(err) };
}

export class Prober {
  readonly stats: ProberStats = { pulls: 0, answered: 0, failed: 0, transportErrors: 0, lastError: "" };
  readonly #opts: ProberOptions;
  /** Answers Odoo has not taken yet (it was unreachable): sent again before the next pull. */
  #unsent: ProbeAnswer[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #running = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #failures = 0;

  constructor(opts: ProberOptions) {
    this.#opts = opts;
  }

  /** One round: resend owed answers, pull, start each question. Returns the pace Odoo asked for. */
  async tick(): Promise<number> {
    if (this.#unsent.length) await this.#send(this.#unsent.splice(0));
    const pulled = await this.#opts.odoo.probePull(this.#opts.connection, 20);
    this.stats.pulls++;
    for (const request of pulled.requests) {
      const work = this.#handle(request).finally(() => this.#inFlight.delete(work));
      this.#inFlight.add(work);
    }
    const pace = Number(pulled.poll_ms);
    return Number.isFinite(pace) && pace > 0 ? pace : (this.#opts.pollIntervalMs ?? DEFAULT_POLL_MS);
  }

  /** Resolves once every question started so far is answered (or its answer is queued for resending). */
  async settled(): Promise<void> {
    while (this.#inFlight.size) await Promise.all([...this.#inFlight]);
  }

  async #handle(request: ProbeRequest): Promise<void> {
    const answer = await this.answerOf(request);
    if (answer.ok) this.stats.answered++;
    else {
      this.stats.failed++;
      this.#opts.log?.info(
        { probe: request.id, op: request.op, target: request.target, code: answer.code },
        answer.error,
      );
    }
    try {
      await this.#send([answer]);
    } catch (err) {
      // #send kept it for the next round.
      this.stats.lastError = (err as Error).message;
    }
  }

  /** The answer to one question, bounded in time; never throws. */
  async answerOf(request: ProbeRequest): Promise<ProbeAnswer> {
    const { handler } = this.#opts;
    const timeoutMs = this.#opts.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProbeError("timeout", `no answer from the floor within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      let work: Promise<unknown>;
      if (request.op === "browse") {
        if (!handler.browse) throw new ProbeError("unsupported", "this connection has no address space to browse");
        work = handler.browse(request.target);
      } else if (request.op === "read") {
        work = handler.read(request.target);
      } else {
        throw new ProbeError("unsupported", `unknown probe operation ${JSON.stringify(request.op)}`);
      }
      // A late answer of the floor after the timeout must not be an unhandled rejection.
      work.catch(() => {});
      return { id: request.id, ok: true, result: await Promise.race([work, deadline]) };
    } catch (err) {
      return failureAnswer(request.id, err);
    } finally {
      clearTimeout(timer);
    }
  }

  async #send(answers: ProbeAnswer[]): Promise<void> {
    try {
      await this.#opts.odoo.probeAnswer(answers);
    } catch (err) {
      this.#unsent.push(...answers);
      throw err;
    }
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let delay: number;
      try {
        delay = await this.tick();
        this.#failures = 0;
      } catch (err) {
        this.#failures++;
        this.stats.transportErrors++;
        this.stats.lastError = (err as Error).message;
        delay = backoffDelay(this.#failures - 1, {
          baseMs: this.#opts.pollIntervalMs ?? DEFAULT_POLL_MS,
          maxMs: this.#opts.maxBackoffMs ?? 30_000,
        });
        // Odoo down is the delivery's news to tell; here it is logged once per outage.
        if (this.#failures === 1)
          this.#opts.log?.warn({ delayMs: delay }, `probe pull failed: ${this.stats.lastError}`);
      }
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
      this.#wake = undefined;
    }
  }

  /** Stops pulling; questions under way are answered first, then the handler is closed. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    await this.settled();
    await this.#opts.handler.close();
  }
}
