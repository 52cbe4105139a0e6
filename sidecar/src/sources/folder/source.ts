// Drop-folder source: CSV exports (AVEVA / Wonderware Historian, any CSV with
// a header line) written into a folder are read once complete, each row
// handed to the payload mappings of transport `file`, and the file moved to
// `done/` — or, when its bytes are not CSV in the declared encoding, to
// `failed/` with `<name>.reason.txt` beside it. Nothing is deleted.
//
// Complete: a file is read only once its size and modification time have
// stayed the same for `settle_ms`, and only if they are still the same after
// the read (the bytes read are then the whole file as it stood). Names a
// writer uses while it writes (`.tmp`, `.part`, starting with `.` or `~`) are
// never taken, so an exporter that writes then renames needs no settle time.
//
// Exactly once: every row's payload carries `content`, a hash chained over
// the file's text up to the end of that row, so ids derived from it are the
// same for the same row of the same content whatever the file is called,
// and an append leaves the earlier rows' ids as they were. What was read is
// committed with the rows' events in the same spool transaction (per chunk of
// rows): per file name the last line taken and its chain, and, with the last
// chunk, the hash of the whole file. A crash between the commit and the move
// reads the file again and skips what it committed; the same content dropped
// again is moved to done/ without being read again; a file appended after it
// was read has only its new rows taken.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FolderConfig, SidecarConfig } from "../../core/contract.ts";
import type { Intake, Source, SourceSink } from "../../core/ports.ts";
import { csvTable, decodeCsv, delimiterChar } from "./csv.ts";

export type SourceLog = (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;

export const DONE_DIR = "done";
export const FAILED_DIR = "failed";
export const REASON_SUFFIX = ".reason.txt";
/** Rows per spool commit: the state committed with each chunk is where a restart resumes. */
export const DEFAULT_CHUNK_ROWS = 500;
/** A file is read into memory whole: larger ones go to failed/ (split the export). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Version of what the row hash chain covers. */
const CHAIN_VERSION = "sfb-csv/1";

/** Bad folder settings (path, pattern): the connection field to fix; the sidecar says it like a bad key. */
export class FolderConfigError extends Error {
  override name = "FolderConfigError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export interface FolderSourceOptions {
  connection: string;
  folder: FolderConfig;
  log?: SourceLog;
  chunkRows?: number;
  maxFileBytes?: number;
  now?: () => number;
}

/** What the spool holds of a file name: the last line taken and the chain hash up to it. */
interface NameProgress {
  line: number;
  chain: string;
}

/** A file name glob of `*` and `?`, case-insensitive. */
export function globToRegExp(pattern: string): RegExp {
  const body = Array.from(pattern, (ch) =>
    ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
  ).join("");
  return new RegExp(`^${body}$`, "i");
}

/** Names writers use while a file is incomplete, and our own reason files: never taken. */
export function isWorkInProgress(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    name.startsWith(".") ||
    name.startsWith("~") ||
    [".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp", REASON_SUFFIX].some((end) => lower.endsWith(end))
  );
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/** The chain hash after one more record: covers every record before it, so equal prefixes give equal chains. */
function chainNext(previous: string, raw: string): string {
  return createHash("sha256").update(previous).update("\n").update(raw).digest("hex");
}

export function folderOptionsFromConfig(config: SidecarConfig, log?: SourceLog): FolderSourceOptions {
  if (!config.folder) throw new FolderConfigError("folder_path", "connection has no folder block (an older Odoo?)");
  return { connection: config.code, folder: config.folder, log };
}

export class FolderSource implements Source {
  readonly name = "folder";
  readonly #opts: FolderSourceOptions;
  readonly #pattern: RegExp;
  readonly #log: SourceLog;
  readonly #now: () => number;
  #sink: SourceSink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Size and mtime last seen per name, and since when unchanged. */
  readonly #seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
  /** Files that could be neither read nor moved: left alone until they change. */
  readonly #stuck = new Map<string, number>();
  readonly #names = new Map<string, NameProgress>();
  readonly #done = new Set<string>();
  #folderError: string | undefined;
  readonly #counts = {
    files_done: 0,
    files_failed: 0,
    files_already_imported: 0,
    files_changed_while_read: 0,
    rows: 0,
    rows_rejected: 0,
    rows_skipped_committed: 0,
  };

  constructor(opts: FolderSourceOptions) {
    this.#opts = opts;
    this.#pattern = globToRegExp(opts.folder.pattern || "*.csv");
    this.#log = opts.log ?? (() => {});
    this.#now = opts.now ?? Date.now;
  }

  get statePrefix(): string {
    return `folder/${this.#opts.connection}/`;
  }

  /** The folder can be listed. */
  get connected(): boolean {
    return this.#folderError === undefined;
  }

  async start(sink: SourceSink): Promise<void> {
    const path = this.#opts.folder.path;
    if (!path?.startsWith("/")) {
      throw new FolderConfigError("folder_path", `${JSON.stringify(path)} is not an absolute path`);
    }
    try {
      const info = await stat(path);
      if (!info.isDirectory()) throw new Error("not a directory");
      await mkdir(join(path, DONE_DIR), { recursive: true });
      await mkdir(join(path, FAILED_DIR), { recursive: true });
    } catch (err) {
      throw new FolderConfigError(
        "folder_path",
        `${path}: ${(err as Error).message} (the sidecar needs to list it and to create done/ and failed/ in it)`,
      );
    }
    const state = await sink.loadState(this.statePrefix);
    for (const [key, value] of Object.entries(state)) {
      const rest = key.slice(this.statePrefix.length);
      if (rest.startsWith("name/")) this.#names.set(rest.slice(5), value as NameProgress);
      else if (rest.startsWith("sha/")) this.#done.add(rest.slice(4));
    }
    this.#sink = sink;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#scanning;
  }

  /** Stops without waiting for the commit under way (a process that dies): the file is read again by the next start. */
  async abort(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.#counts, folder_ok: this.connected ? 1 : 0 };
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.scan()
        .catch((err: Error) => this.#log("error", `folder scan failed: ${err.message}`))
        .finally(() => this.#schedule(Math.max(100, this.#opts.folder.poll_interval_ms)));
    }, delay);
  }

  /** One pass over the folder: files settled long enough are read, one after the other. Tests call it directly. */
  scan(): Promise<void> {
    // One pass at a time: the timer's and a caller's never read the same file at once.
    const run = this.#scanning.then(() => this.#scanOnce());
    this.#scanning = run.catch(() => {});
    return run;
  }

  async #scanOnce(): Promise<void> {
    const folder = this.#opts.folder;
    let names: string[];
    try {
      const entries = await readdir(folder.path, { withFileTypes: true });
      names = entries.filter((e) => e.isFile()).map((e) => e.name);
      if (this.#folderError) this.#log("info", `folder ${folder.path} is readable again`);
      this.#folderError = undefined;
    } catch (err) {
      const message = `cannot list ${folder.path}: ${(err as Error).message}`;
      if (this.#folderError !== message) this.#log("error", message);
      this.#folderError = message;
      return;
    }
    names.sort();
    const present = new Set(names);
    for (const name of this.#seen.keys()) if (!present.has(name)) this.#seen.delete(name);
    for (const name of names) {
      if (this.#stopped) return;
      if (isWorkInProgress(name) || !this.#pattern.test(name)) continue;
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(join(folder.path, name));
      } catch {
        continue; // moved away meanwhile
      }
      if (this.#stuck.get(name) === info.mtimeMs) continue;
      const now = this.#now();
      const seen = this.#seen.get(name);
      if (!seen || seen.size !== info.size || seen.mtimeMs !== info.mtimeMs) {
        this.#seen.set(name, { size: info.size, mtimeMs: info.mtimeMs, since: now });
        if (folder.settle_ms > 0) continue;
      } else if (now - seen.since < folder.settle_ms) continue;
      await this.#take(name, info.size, info.mtimeMs);
    }
  }

  async #take(name: string, size: number, mtimeMs: number): Promise<void> {
    const path = join(this.#opts.folder.path, name);
    const maxBytes = this.#opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (size > maxBytes) {
      await this.#fail(name, `is ${size} bytes, more than the ${maxBytes} a file may have: split the export`);
      return;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
      const after = await stat(path);
      if (after.size !== bytes.length || after.mtimeMs !== mtimeMs || bytes.length !== size) {
        // Written to while read: what was read is not the whole file. Settle again.
        this.#counts.files_changed_while_read++;
        this.#seen.set(name, { size: after.size, mtimeMs: after.mtimeMs, since: this.#now() });
        this.#log("warn", `${name} changed while it was read: read again once it is unchanged for the settle time`);
        return;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      await this.#fail(name, `cannot be read: ${(err as Error).message}`);
      return;
    }
    const fileSha = sha256(bytes);
    if (this.#done.has(fileSha)) {
      this.#counts.files_already_imported++;
      this.#log(
        "info",
        `${name}: the same content was imported before; moved to ${DONE_DIR}/ without reading it again`,
      );
      await this.#moveDone(name, mtimeMs);
      return;
    }
    const decoded = decodeCsv(bytes, this.#opts.folder.encoding);
    if (!decoded.ok) {
      await this.#fail(name, `${decoded.reason} (declared encoding ${this.#opts.folder.encoding})`, bytes);
      return;
    }
    const delimiter = delimiterChar(this.#opts.folder.delimiter, decoded.text);
    const table = csvTable(decoded.text, delimiter);
    if (!table.ok) {
      await this.#fail(name, table.reason, bytes);
      return;
    }
    const committed = this.#names.get(name);
    const chunkRows = this.#opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
    const receivedAt = new Date(this.#now());
    const headerRaw = decoded.text.slice(0, decoded.text.search(/\r\n|\n|\r|$/));
    let chain = sha256(`${CHAIN_VERSION}\n${headerRaw}`);
    let chunk: Intake[] = [];
    let last: NameProgress = { line: 1, chain };
    let resumeChecked = committed === undefined;
    let skipping = false;
    const flush = async (final: boolean) => {
      const state: Record<string, unknown> = { [`${this.statePrefix}name/${name}`]: last };
      if (final) {
        state[`${this.statePrefix}sha/${fileSha}`] = { file: name, lines: last.line, at: receivedAt.toISOString() };
      }
      await this.#sink?.accept(chunk, state);
      this.#names.set(name, last);
      chunk = [];
    };
    for (const row of table.rows) {
      chain = chainNext(chain, row.raw);
      last = { line: row.line, chain };
      if (!resumeChecked && committed) {
        if (row.line < committed.line) {
          skipping = true;
          this.#counts.rows_skipped_committed++;
          continue;
        }
        resumeChecked = true;
        if (row.line === committed.line && chain === committed.chain) {
          // The file up to here is what was committed before: go on after it.
          this.#counts.rows_skipped_committed++;
          continue;
        }
        if (skipping) {
          // Another content under this name: every row counts (ids still tell repeats apart).
          return this.#rereadWithout(name, size, mtimeMs);
        }
      }
      const at = `file ${name} line ${row.line}`;
      if (row.kind === "bad") {
        this.#counts.rows_rejected++;
        chunk.push({
          kind: "rejected",
          payload: Buffer.from(JSON.stringify({ content: chain, line: row.line, raw: row.raw })),
          origin: name,
          receivedAt,
          reason: `${at}: ${row.reason}`,
        });
      } else {
        this.#counts.rows++;
        chunk.push({
          kind: "raw",
          payload: Buffer.from(JSON.stringify({ content: chain, line: row.line, row: row.values })),
          origin: name,
          receivedAt,
          via: { transport: "file", headers: { file: name, line: String(row.line) }, at },
        });
      }
      if (chunk.length >= chunkRows) await flush(false);
      if (this.#stopped) return;
    }
    if (!resumeChecked && committed && skipping) {
      // Shorter than what was committed under this name: other content.
      return this.#rereadWithout(name, size, mtimeMs);
    }
    await flush(true);
    this.#done.add(fileSha);
    try {
      const now = await stat(path);
      if (now.size !== size || now.mtimeMs !== mtimeMs) {
        this.#counts.files_changed_while_read++;
        this.#seen.set(name, { size: now.size, mtimeMs: now.mtimeMs, since: this.#now() });
        this.#log(
          "warn",
          `${name} was written to after it was read: left in place; its new rows are taken once it settles`,
        );
        return;
      }
    } catch {
      return;
    }
    this.#counts.files_done++;
    await this.#moveDone(name, mtimeMs);
  }

  /** The name's committed progress belongs to other content: forget it and read this file whole. */
  async #rereadWithout(name: string, size: number, mtimeMs: number): Promise<void> {
    this.#names.delete(name);
    return this.#take(name, size, mtimeMs);
  }

  async #moveDone(name: string, mtimeMs: number): Promise<void> {
    try {
      await rename(join(this.#opts.folder.path, name), await this.#freeName(DONE_DIR, name));
      this.#seen.delete(name);
    } catch (err) {
      this.#stuck.set(name, mtimeMs);
      this.#log("error", `${name} was imported but cannot be moved to ${DONE_DIR}/: ${(err as Error).message}`);
    }
  }

  /**
   * failed/<name> with failed/<name>.reason.txt: the reason is written first, so a file in failed/ always
   * has one. Before that the file is stored in Odoo as rejected input with the reason (its bytes, cut at
   * 256 KiB; the same file again is a duplicate there), so the dead-letter screen shows it too.
   */
  async #fail(name: string, reason: string, bytes?: Uint8Array): Promise<void> {
    const path = join(this.#opts.folder.path, name);
    await this.#sink?.accept([
      {
        kind: "rejected",
        payload: bytes ?? Buffer.from(reason),
        origin: name,
        receivedAt: new Date(this.#now()),
        reason: `file ${name} ${reason} — moved to ${FAILED_DIR}/ in ${this.#opts.folder.path}`,
      },
    ]);
    this.#counts.files_failed++;
    this.#log("error", `${name} moved to ${FAILED_DIR}/: ${reason}`, { file: name });
    try {
      const target = await this.#freeName(FAILED_DIR, name);
      await writeFile(
        `${target}${REASON_SUFFIX}`,
        `${name}: ${reason}\nconnection ${this.#opts.connection}, ${new Date(this.#now()).toISOString()}\n`,
      );
      await rename(path, target);
      this.#seen.delete(name);
    } catch (err) {
      const info = await stat(path).catch(() => undefined);
      if (info) this.#stuck.set(name, info.mtimeMs);
      this.#log("error", `${name} cannot be moved to ${FAILED_DIR}/: ${(err as Error).message}`);
    }
  }

  /** <dir>/<name>, or <dir>/<stem>.<n><ext> when a file of that name is there already: nothing is overwritten. */
  async #freeName(dir: string, name: string): Promise<string> {
    const ext = extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let n = 0; ; n++) {
      const candidate = join(this.#opts.folder.path, dir, n === 0 ? name : `${stem}.${n}${ext}`);
      const taken = await stat(candidate).then(
        () => true,
        () => false,
      );
      const reasonTaken = await stat(`${candidate}${REASON_SUFFIX}`).then(
        () => true,
        () => false,
      );
      if (!taken && !reasonTaken) return candidate;
    }
  }
}
