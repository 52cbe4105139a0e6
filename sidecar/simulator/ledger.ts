// What the simulator emitted and what Odoo should show for it. Tests compare
// Odoo's work orders, time logs, downtime and scrap against `expected`.
import { writeFileSync } from "node:fs";

export interface LedgerEntry {
  seq: number;
  /** Source time of the action (the line's clock, drift included). */
  time: string;
  machine: string;
  source: string;
  action: string;
  detail: Record<string, unknown>;
  /** The business event this should become in Odoo, or null for none. */
  expect: { type: string; data: Record<string, unknown> } | null;
  /** The Odoo effect, in words. */
  effect: string;
}

export interface ExpectedOrder {
  order: string;
  source: string;
  started: boolean;
  completed: boolean;
  good: number;
  scrap: number;
}

export interface ExpectedInterval {
  source: string;
  order: string;
  reason_code?: string;
  start: string;
  end: string | null;
}

export interface LedgerFile {
  scenario: string;
  line: string;
  machines: string[];
  started: string;
  finished: string;
  entries: LedgerEntry[];
  expected: {
    orders: ExpectedOrder[];
    downtimes: ExpectedInterval[];
    setups: ExpectedInterval[];
    /** Malformed inputs that must show in Odoo as rejected. */
    rejected: number;
    /** Re-sent copies that must be recognised as duplicates. */
    duplicates: number;
    /** OPC UA server restarts and Sparkplug Rebirths the scenario caused. */
    server_restarts: number;
  };
  stats: Record<string, number>;
}

export class Ledger {
  readonly scenario: string;
  readonly line: string;
  readonly machines: string[];
  readonly entries: LedgerEntry[] = [];
  readonly orders = new Map<string, ExpectedOrder>();
  readonly downtimes: ExpectedInterval[] = [];
  readonly setups: ExpectedInterval[] = [];
  rejected = 0;
  duplicates = 0;
  serverRestarts = 0;
  readonly stats: Record<string, number> = {};
  readonly #started = new Date();

  constructor(scenario: string, line: string, machines: string[]) {
    this.scenario = scenario;
    this.line = line;
    this.machines = machines;
  }

  record(entry: Omit<LedgerEntry, "seq" | "time"> & { time: Date }): LedgerEntry {
    const full: LedgerEntry = { ...entry, seq: this.entries.length + 1, time: entry.time.toISOString() };
    this.entries.push(full);
    return full;
  }

  order(order: string, source: string): ExpectedOrder {
    let o = this.orders.get(order);
    if (!o) {
      o = { order, source, started: false, completed: false, good: 0, scrap: 0 };
      this.orders.set(order, o);
    }
    return o;
  }

  count(stat: string, by = 1): void {
    this.stats[stat] = (this.stats[stat] ?? 0) + by;
  }

  toJSON(): LedgerFile {
    return {
      scenario: this.scenario,
      line: this.line,
      machines: this.machines,
      started: this.#started.toISOString(),
      finished: new Date().toISOString(),
      entries: this.entries,
      expected: {
        orders: [...this.orders.values()],
        downtimes: this.downtimes,
        setups: this.setups,
        rejected: this.rejected,
        duplicates: this.duplicates,
        server_restarts: this.serverRestarts,
      },
      stats: this.stats,
    };
  }

  write(path: string): void {
    writeFileSync(path, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
  }
}
