// Why a floor write failed, and whether trying again can help. Odoo shows
// `message`; `retryable` decides whether the module schedules a retry
// (server down, timeout) or leaves the message failed for a person
// (bad node id, access denied: retrying the same write cannot succeed).
export class FloorWriteError extends Error {
  override name = "FloorWriteError";
  readonly retryable: boolean;

  constructor(message: string, opts: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.retryable = opts.retryable;
  }
}

/** Any thrown value as a FloorWriteError; unknown errors count as transient. */
export function asFloorWriteError(err: unknown): FloorWriteError {
  if (err instanceof FloorWriteError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FloorWriteError(message || "unknown floor write error", { retryable: true, cause: err });
}
