// Structured JSON logs (pino) on stdout; one logger per process, children per part.
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(level = "info", destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { app: "shopfloor-sidecar" }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
