// CSV as historian exports write it (RFC 4180 and what Excel and the AVEVA
// Historian Client do besides): a declared encoding checked strictly, an
// optional byte order mark, `,` `;` tab or `|` between fields, fields in
// double quotes with `""` for a quote and line breaks inside, CRLF, LF or CR
// between records. Pure functions over bytes and text: the folder source
// reads, this file says what the bytes hold and where each record starts.
import type { CsvDelimiter, CsvEncoding } from "../../core/contract.ts";

export type Decoded = { ok: true; text: string } | { ok: false; reason: string };

const DELIMITER_CHARS: Record<Exclude<CsvDelimiter, "auto">, string> = {
  comma: ",",
  semicolon: ";",
  tab: "\t",
  pipe: "|",
};

/** Bytes Windows-1252 leaves undefined (the WHATWG decoder maps them to C1 controls; no exporter writes them). */
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

/** Where in the text a byte offset falls, for people: `line 3` (1-based, LF, CRLF and CR each end a line). */
function lineOfByte(bytes: Uint8Array, offset: number, unit: 1 | 2, littleEndian = true): number {
  let line = 1;
  for (let i = 0; i + unit <= offset; i += unit) {
    const code = unit === 1 ? bytes[i] : littleEndian ? bytes[i] : bytes[i + 1];
    const high = unit === 1 ? 0 : littleEndian ? bytes[i + 1] : bytes[i];
    if (high !== 0) continue;
    if (code === 0x0a) line++;
    else if (code === 0x0d) {
      const next = unit === 1 ? bytes[i + 1] : littleEndian ? bytes[i + 2] : bytes[i + 3];
      const nextHigh = unit === 1 ? 0 : littleEndian ? bytes[i + 3] : bytes[i + 2];
      if (!(next === 0x0a && nextHigh === 0)) line++;
    }
  }
  return line;
}

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function startsWith(bytes: Uint8Array, ...prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/**
 * The text of a file in its declared encoding, or why the bytes are not that
 * encoding (the file then goes to `failed/` with the reason). Checks beyond
 * the decoder's own: a byte order mark of another encoding, NUL bytes in an
 * 8-bit file (UTF-16 without a mark), UTF-8 sequences in a file declared
 * Windows-1252, and a file declared UTF-16 without any NUL byte (an 8-bit
 * file: CSV in UTF-16 always has them, its delimiters and digits are ASCII).
 */
export function decodeCsv(bytes: Uint8Array, encoding: CsvEncoding): Decoded {
  const utf16Mark = startsWith(bytes, 0xff, 0xfe) ? "le" : startsWith(bytes, 0xfe, 0xff) ? "be" : undefined;
  const utf8Mark = startsWith(bytes, 0xef, 0xbb, 0xbf);
  if (encoding === "utf-8" || encoding === "windows-1252") {
    const label = encoding === "utf-8" ? "UTF-8" : "Windows-1252";
    if (utf16Mark) {
      return {
        ok: false,
        reason: `starts with a UTF-16 byte order mark (${utf16Mark === "le" ? "FF FE" : "FE FF"}) but the folder is declared ${label}: set the encoding to UTF-16`,
      };
    }
    const nul = bytes.indexOf(0);
    if (nul >= 0) {
      return {
        ok: false,
        reason: `holds a NUL byte at byte ${nul} (line ${lineOfByte(bytes, nul, 1)}): not ${label} text (UTF-16 without a byte order mark?)`,
      };
    }
    const invalidUtf8 = firstInvalidUtf8(bytes);
    if (encoding === "utf-8") {
      if (invalidUtf8 >= 0) {
        const shown = Array.from(bytes.subarray(invalidUtf8, invalidUtf8 + 4), (b) =>
          b.toString(16).toUpperCase().padStart(2, "0"),
        ).join(" ");
        return {
          ok: false,
          reason: `not valid UTF-8 at byte ${invalidUtf8} (line ${lineOfByte(bytes, invalidUtf8, 1)}: ${shown}): the folder is declared UTF-8; an export in Windows-1252 (ANSI) needs that encoding`,
        };
      }
      return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
    }
    if (utf8Mark) {
      return { ok: false, reason: "starts with a UTF-8 byte order mark but the folder is declared Windows-1252" };
    }
    for (let i = 0; i < bytes.length; i++) {
      if (CP1252_UNDEFINED.has(bytes[i] as number)) {
        return {
          ok: false,
          reason: `byte ${(bytes[i] as number).toString(16).toUpperCase()} at byte ${i} (line ${lineOfByte(bytes, i, 1)}) is not a Windows-1252 character`,
        };
      }
    }
    if (invalidUtf8 < 0 && bytes.some((b) => b >= 0x80)) {
      return {
        ok: false,
        reason:
          "is UTF-8 text (every byte above 127 is part of a UTF-8 sequence) but the folder is declared Windows-1252: set the encoding to UTF-8",
      };
    }
    return { ok: true, text: new TextDecoder("windows-1252").decode(bytes) };
  }
  // UTF-16
  if (utf8Mark) return { ok: false, reason: "starts with a UTF-8 byte order mark but the folder is declared UTF-16" };
  const order: "le" | "be" = encoding === "utf-16be" ? "be" : encoding === "utf-16le" ? "le" : (utf16Mark ?? "le");
  if (utf16Mark && utf16Mark !== order) {
    return {
      ok: false,
      reason: `starts with a UTF-16 ${utf16Mark === "le" ? "little" : "big"}-endian byte order mark but the folder is declared ${encoding.toUpperCase()}`,
    };
  }
  if (bytes.length % 2 !== 0) {
    return { ok: false, reason: `has an odd number of bytes (${bytes.length}): not UTF-16` };
  }
  if (!utf16Mark && bytes.length > 0 && bytes.indexOf(0) < 0) {
    return {
      ok: false,
      reason: "has no byte order mark and no NUL byte: an 8-bit file (UTF-8 or Windows-1252), not UTF-16",
    };
  }
  try {
    return { ok: true, text: new TextDecoder(order === "le" ? "utf-16le" : "utf-16be", { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, reason: `not valid UTF-16${order === "le" ? "LE" : "BE"} (a lone surrogate)` };
  }
}

/** One record as it stood in the text: its fields, or why it is malformed. */
export type CsvRecord =
  | { kind: "record"; line: number; fields: string[]; raw: string }
  | { kind: "bad"; line: number; reason: string; raw: string };

/** The delimiter of `auto`: the one of `,` `;` tab `|` the first record has most of outside quotes (`,` when none). */
export function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>([
    [",", 0],
    [";", 0],
    ["\t", 0],
    ["|", 0],
  ]);
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) as number) + 1);
  }
  let best = ",";
  for (const [ch, count] of counts) if (count > (counts.get(best) as number)) best = ch;
  return best;
}

export function delimiterChar(delimiter: CsvDelimiter, text: string): string {
  return delimiter === "auto" ? sniffDelimiter(text) : DELIMITER_CHARS[delimiter];
}

/**
 * The records of `text`, each with the line it starts on (1-based). Blank
 * lines are skipped. A malformed record — a quote inside an unquoted field,
 * text after a closing quote, a quote never closed — is yielded as `bad`
 * with the reason, and parsing goes on at the next line (a quote never
 * closed takes the rest of the text).
 */
export function* csvRecords(text: string, delimiter: string): Generator<CsvRecord> {
  // A byte order mark was the decoder's (decodeCsv): a U+FEFF here is data.
  let i = 0;
  let line = 1;
  const n = text.length;
  const delim = delimiter.charCodeAt(0);
  while (i < n) {
    const start = i;
    const startLine = line;
    const fields: string[] = [];
    let anyQuoted = false;
    let bad: string | undefined;
    let ended = false;
    while (!ended) {
      // One field.
      if (text.charCodeAt(i) === 0x22) {
        anyQuoted = true;
        let value = "";
        i++;
        for (;;) {
          const close = text.indexOf('"', i);
          if (close < 0) {
            bad = `a quoted field (field ${fields.length + 1}) is never closed`;
            line += countLineBreaks(text, i, n);
            i = n;
            break;
          }
          line += countLineBreaks(text, i, close);
          value += text.slice(i, close);
          if (text.charCodeAt(close + 1) === 0x22) {
            value += '"';
            i = close + 2;
            continue;
          }
          i = close + 1;
          break;
        }
        if (bad) break;
        const next = text.charCodeAt(i);
        if (i < n && next !== delim && next !== 0x0a && next !== 0x0d) {
          bad = `text after the closing quote of field ${fields.length + 1}`;
          break;
        }
        fields.push(value);
      } else {
        let j = i;
        while (j < n) {
          const code = text.charCodeAt(j);
          if (code === delim || code === 0x0a || code === 0x0d) break;
          j++;
        }
        const value = text.slice(i, j);
        if (value.includes('"')) {
          bad = `a quote inside unquoted field ${fields.length + 1} (a field holding a quote must be quoted, its quotes doubled)`;
          i = j;
          break;
        }
        fields.push(value);
        i = j;
      }
      // After a field: a delimiter, a line break or the end.
      const code = text.charCodeAt(i);
      if (i >= n) ended = true;
      else if (code === delim) i++;
      else {
        i += code === 0x0d && text.charCodeAt(i + 1) === 0x0a ? 2 : 1;
        line++;
        ended = true;
      }
      if (!ended && i >= n) {
        // A delimiter as the last character: one more, empty, field.
        fields.push("");
        ended = true;
      }
    }
    if (bad !== undefined) {
      // Skip to the end of the physical line the fault is on.
      while (i < n) {
        const code = text.charCodeAt(i);
        if (code === 0x0a || code === 0x0d) {
          i += code === 0x0d && text.charCodeAt(i + 1) === 0x0a ? 2 : 1;
          line++;
          break;
        }
        i++;
      }
      yield { kind: "bad", line: startLine, reason: bad, raw: trimBreak(text.slice(start, i)) };
      continue;
    }
    if (!anyQuoted && fields.length === 1 && fields[0] === "") continue; // a blank line
    yield { kind: "record", line: startLine, fields, raw: trimBreak(text.slice(start, i)) };
  }
}

function trimBreak(raw: string): string {
  return raw.replace(/\r?\n$|\r$/, "");
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0a) count++;
    else if (code === 0x0d && text.charCodeAt(i + 1) !== 0x0a) count++;
  }
  return count;
}

/** A data row of a CSV file with a header: its values by column name, or why it cannot be read. */
export type CsvRow =
  | { kind: "row"; line: number; values: Record<string, string>; raw: string }
  | { kind: "bad"; line: number; reason: string; raw: string };

export type CsvTable = { ok: true; columns: string[]; rows: Generator<CsvRow> } | { ok: false; reason: string };

/**
 * A CSV text with a header line: the column names and the rows as objects.
 * A header that cannot name the columns (malformed, empty or repeated names)
 * fails the whole file; a row with another number of fields than the header
 * is a bad row with the counts in its reason.
 */
export function csvTable(text: string, delimiter: string): CsvTable {
  const records = csvRecords(text, delimiter);
  const first = records.next();
  if (first.done) return { ok: false, reason: "is empty (no header line)" };
  const header = first.value;
  if (header.kind === "bad") return { ok: false, reason: `header (line ${header.line}): ${header.reason}` };
  const columns = header.fields.map((name) => name.trim());
  const seen = new Map<string, number>();
  for (const [index, name] of columns.entries()) {
    if (name === "") {
      return {
        ok: false,
        reason: `header (line ${header.line}): column ${index + 1} has no name (delimiter ${JSON.stringify(delimiter)}; is it the right one?)`,
      };
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      return {
        ok: false,
        reason: `header (line ${header.line}): columns ${earlier + 1} and ${index + 1} are both named ${JSON.stringify(name)}`,
      };
    }
    seen.set(name, index);
  }
  function* rows(): Generator<CsvRow> {
    for (const record of records) {
      if (record.kind === "bad") {
        yield record;
        continue;
      }
      if (record.fields.length !== columns.length) {
        yield {
          kind: "bad",
          line: record.line,
          reason: `${record.fields.length} fields where the header has ${columns.length}`,
          raw: record.raw,
        };
        continue;
      }
      const values: Record<string, string> = {};
      for (const [index, name] of columns.entries()) values[name] = record.fields[index] as string;
      yield { kind: "row", line: record.line, values, raw: record.raw };
    }
  }
  return { ok: true, columns, rows: rows() };
}
