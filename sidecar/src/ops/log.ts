// Structured JSON logs (pino) on stdout; one logger per process, children per part.
// Every line passes the redactor on its way out: no password, key or
// credential-carrying URL reaches the log, whatever part wrote it.
import { type Logger, pino } from "pino";
import { Redactor } from "../core/secrets.ts";

export type { Logger };

export function createLogger(
  level = "info",
  destination?: pino.DestinationStream,
  redactor: Redactor = new Redactor(),
): Logger {
  return pino(
    {
      level,
      base: { app: "shopfloor-sidecar" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: (line) => redactor.text(line) },
    },
    destination,
  );
}
