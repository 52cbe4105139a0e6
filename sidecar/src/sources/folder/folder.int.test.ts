// The drop-folder source on the real filesystem: files written, appended,
// renamed and dropped again as an exporter does; what reaches the sink and
// where each file ends up.
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RecordingSink, sourceContract } from "../../../test/support/sources/source.contract.ts";
import type { FolderConfig } from "../../core/contract.ts";
import type { Intake } from "../../core/ports.ts";
import { FolderConfigError, FolderSource, type FolderSourceOptions } from "./source.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sfb-folder-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function source(folder: Partial<FolderConfig> = {}, opts: Partial<FolderSourceOptions> = {}): FolderSource {
  return new FolderSource({
    connection: "HIST",
    folder: {
      path: dir,
      pattern: "*.csv",
      encoding: "utf-8",
      delimiter: "auto",
      settle_ms: 0,
      poll_interval_ms: 50,
      ...folder,
    },
    ...opts,
  });
}

const NARROW =
  "DateTime,TagName,Value,Quality\r\n2026-01-05 08:00:00.000,Press01.Good,1,0\r\n2026-01-05 08:00:01.000,Press01.Good,2,0\r\n";
const parsed = (items: Intake[]): ({ kind: Intake["kind"] } & Record<string, unknown>)[] =>
  items.map((item) => ({
    kind: item.kind,
    ...(JSON.parse(item.kind === "event" ? "{}" : Buffer.from(item.payload).toString("utf8")) as Record<
      string,
      unknown
    >),
  }));

async function runOnce(src: FolderSource, sink: RecordingSink): Promise<void> {
  await src.start(sink);
  await src.scan();
  await src.stop();
}

describe("FolderSource", () => {
  sourceContract(
    "FolderSource",
    async () => source(),
    async (marker) => {
      writeFileSync(join(dir, `${marker}.tmp`), `DateTime,TagName,Value\n2026-01-05 08:00:00,${marker},1\n`);
      renameSync(join(dir, `${marker}.tmp`), join(dir, `${marker}.csv`));
    },
    { redeliversUncommitted: true },
  );

  it("each row becomes a raw intake of transport file with its line; the file goes to done/", async () => {
    writeFileSync(join(dir, "export.csv"), NARROW);
    const sink = new RecordingSink();
    await runOnce(source(), sink);
    expect(sink.committed.map((i) => i.kind === "raw" && i.via)).toEqual([
      { transport: "file", headers: { file: "export.csv", line: "2" }, at: "file export.csv line 2" },
      { transport: "file", headers: { file: "export.csv", line: "3" }, at: "file export.csv line 3" },
    ]);
    expect(parsed(sink.committed)[1]).toMatchObject({ line: 3, row: { TagName: "Press01.Good", Value: "2" } });
    expect(readdirSync(join(dir, "done"))).toEqual(["export.csv"]);
    expect(readdirSync(dir).sort()).toEqual(["done", "failed"]);
  });

  it("a malformed row is rejected with the file and its line; the others go on", async () => {
    writeFileSync(
      join(dir, "bad.csv"),
      'DateTime,TagName,Value\n2026-01-05 08:00:00,A,1\n2026-01-05 08:00:01,"B"x,2\n2026-01-05 08:00:02,C\n2026-01-05 08:00:03,D,4\n',
    );
    const sink = new RecordingSink();
    await runOnce(source(), sink);
    const rejected = sink.committed.filter((i) => i.kind === "rejected");
    expect(rejected.map((i) => i.kind === "rejected" && i.reason)).toEqual([
      "file bad.csv line 3: text after the closing quote of field 2",
      "file bad.csv line 4: 2 fields where the header has 3",
    ]);
    expect(sink.committed.filter((i) => i.kind === "raw")).toHaveLength(2);
    expect(source().stats().rows_rejected).toBe(0);
  });

  it("a file in the wrong encoding goes to failed/ with a reason file; nothing of it is taken", async () => {
    writeFileSync(join(dir, "latin.csv"), Buffer.from("DateTime,TagName,Value\n2026-01-05,Température,1\n", "latin1"));
    const sink = new RecordingSink();
    await runOnce(source(), sink);
    // Shown in Odoo's dead letters too: the file's bytes, rejected with the reason.
    expect(sink.committed).toHaveLength(1);
    expect(sink.committed[0]).toMatchObject({
      kind: "rejected",
      origin: "latin.csv",
      reason: expect.stringMatching(/^file latin\.csv not valid UTF-8 at byte \d+ \(line 2: E9.* moved to failed\//),
    });
    expect(readdirSync(join(dir, "failed")).sort()).toEqual(["latin.csv", "latin.csv.reason.txt"]);
    expect(readFileSync(join(dir, "failed", "latin.csv.reason.txt"), "utf8")).toMatch(
      /^latin\.csv: not valid UTF-8 at byte \d+ \(line 2: E9.*declared encoding utf-8/,
    );
  });

  it("the same content dropped again (another name) is moved to done/ unread; the same name never overwrites", async () => {
    writeFileSync(join(dir, "a.csv"), NARROW);
    const sink = new RecordingSink();
    await runOnce(source(), sink);
    writeFileSync(join(dir, "a.csv"), NARROW);
    writeFileSync(join(dir, "copy.csv"), NARROW);
    const again = source();
    await runOnce(again, sink);
    expect(sink.committed).toHaveLength(2);
    expect(again.stats().files_already_imported).toBe(2);
    expect(readdirSync(join(dir, "done")).sort()).toEqual(["a.1.csv", "a.csv", "copy.csv"]);
  });

  it("ids of a row do not depend on the file name, and an append keeps the earlier rows' content hashes", async () => {
    writeFileSync(join(dir, "day.csv"), NARROW);
    const sink = new RecordingSink();
    const src = source({ settle_ms: 60_000 }, { now: () => clock });
    let clock = 0;
    await src.start(sink);
    await src.scan(); // seen
    appendFileSync(join(dir, "day.csv"), "2026-01-05 08:00:02.000,Press01.Good,3,0\r\n"); // written to before it settled
    clock += 60_000;
    await src.scan(); // changed: settles again
    expect(sink.committed).toHaveLength(0);
    clock += 60_000;
    await src.scan();
    await src.stop();
    expect(parsed(sink.committed).map((p) => p.line)).toEqual([2, 3, 4]);
    // The same first two rows alone, under another name: the same content hashes.
    const other = new RecordingSink();
    writeFileSync(join(dir, "other.csv"), NARROW);
    await runOnce(source(), other);
    expect(parsed(other.committed).map((p) => p.content)).toEqual(
      parsed(sink.committed)
        .slice(0, 2)
        .map((p) => p.content),
    );
  });

  it("a file appended after it was imported: only its new rows are taken", async () => {
    writeFileSync(join(dir, "live.csv"), NARROW);
    const sink = new RecordingSink();
    // The exporter writes more after the import, before the move (a file with this name comes back).
    await runOnce(source(), sink);
    writeFileSync(join(dir, "live.csv"), `${NARROW}2026-01-05 08:00:02.000,Press01.Good,3,0\r\n`);
    const again = source();
    await runOnce(again, sink);
    expect(parsed(sink.committed).map((p) => p.line)).toEqual([2, 3, 4]);
    expect(again.stats().rows_skipped_committed).toBe(2);
  });

  it("a crash after the commit and before the move: the file is read again and nothing taken twice", async () => {
    writeFileSync(join(dir, "crash.csv"), NARROW);
    const sink = new RecordingSink();
    const src = source({}, { chunkRows: 1 });
    let accepts = 0;
    await src.start({
      accept: async (items, state) => {
        accepts++;
        await sink.accept(items, state);
        if (accepts === 2) throw new Error("killed after the second commit");
        return undefined;
      },
      loadState: (prefix) => sink.loadState(prefix),
    });
    await src.scan().catch(() => {});
    await src.abort();
    expect(existsSync(join(dir, "crash.csv"))).toBe(true);
    await runOnce(source({}, { chunkRows: 1 }), sink);
    expect(parsed(sink.committed).map((p) => p.line)).toEqual([2, 3]);
    expect(readdirSync(join(dir, "done"))).toEqual(["crash.csv"]);
  });

  it("names being written (.tmp, .part, ~, .) and names outside the pattern are never taken", async () => {
    for (const name of ["x.csv.tmp", "x.part", "~x.csv", ".x.csv", "x.txt"]) writeFileSync(join(dir, name), NARROW);
    const sink = new RecordingSink();
    await runOnce(source(), sink);
    expect(sink.committed).toHaveLength(0);
  });

  it("UTF-16 with ; and Windows-1252 with tabs, as the Historian Client writes them", async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from("DateTime;TagName;Value\r\n2026-01-05;Température;1,5\r\n", "utf16le"),
    ]);
    writeFileSync(join(dir, "u16.csv"), utf16);
    const sink = new RecordingSink();
    await runOnce(source({ encoding: "utf-16" }), sink);
    expect(parsed(sink.committed)[0]).toMatchObject({ row: { TagName: "Température", Value: "1,5" } });
    writeFileSync(
      join(dir, "ansi.csv"),
      Buffer.from("DateTime\tTagName\tValue\r\n2026-01-05\tDruck in m³\t2\r\n", "latin1"),
    );
    const ansi = new RecordingSink();
    await runOnce(source({ encoding: "windows-1252", delimiter: "tab" }), ansi);
    expect(parsed(ansi.committed)[0]).toMatchObject({ row: { TagName: "Druck in m³" } });
  });

  it("a folder that is not there is a configuration error naming folder_path", async () => {
    await expect(source({ path: join(dir, "missing") }).start(new RecordingSink())).rejects.toThrow(FolderConfigError);
    await expect(source({ path: "relative" }).start(new RecordingSink())).rejects.toThrow(/absolute/);
  });
});
