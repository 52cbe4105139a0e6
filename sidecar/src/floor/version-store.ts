// The last version each floor destination holds, kept on disk in the spool
// directory so a restarted sidecar still refuses to write an older queue
// over a newer one. Small and rewritten whole (atomic rename): one entry
// per workcenter × destination.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface VersionEntry {
  version: number;
  /** What the writer needs to restore the floor view after a restart (Sparkplug NBIRTH). */
  snapshot?: unknown;
  writtenAt: string;
}

interface StoreFile {
  entries: Record<string, VersionEntry>;
  counters: Record<string, number>;
}

export const VERSION_STORE_FILE = "floor-versions.json";

export class VersionStore {
  readonly path: string;
  private data: StoreFile;

  /** `path` may be a spool directory (the file goes inside it) or a file path. */
  constructor(path: string) {
    this.path = path.endsWith(".json") ? path : join(path, VERSION_STORE_FILE);
    this.data = VersionStore.load(this.path);
  }

  private static load(path: string): StoreFile {
    if (!existsSync(path)) return { entries: {}, counters: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      // Guessing would risk writing an older queue over a newer one.
      throw new Error(`floor version store ${path} is unreadable (${(err as Error).message}); fix or remove it`);
    }
    const file = parsed as Partial<StoreFile>;
    return { entries: file.entries ?? {}, counters: file.counters ?? {} };
  }

  get(key: string): VersionEntry | undefined {
    return this.data.entries[key];
  }

  /** True when `version` is not newer than what the destination already holds. */
  isStale(key: string, version: number): boolean {
    const current = this.data.entries[key];
    return current !== undefined && version <= current.version;
  }

  record(key: string, version: number, snapshot?: unknown): void {
    const current = this.data.entries[key];
    if (current && current.version > version) return;
    this.data.entries[key] = { version, snapshot, writtenAt: new Date().toISOString() };
    this.save();
  }

  entries(prefix = ""): [string, VersionEntry][] {
    return Object.entries(this.data.entries).filter(([key]) => key.startsWith(prefix));
  }

  /** Increments and persists a named counter (Sparkplug bdSeq survives restarts). */
  next(counter: string, modulo: number): number {
    const previous = this.data.counters[counter];
    const value = previous === undefined ? 0 : (previous + 1) % modulo;
    this.data.counters[counter] = value;
    this.save();
    return value;
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.path);
  }
}
