// A small JSON tokenizer for the DLQ payload view. Presentation only: the
// text is shown as received, so invalid JSON (a rejected payload) still
// renders, with the unparsable tail marked as such.
import { _t } from "./web.ts";

export type JsonTokenKind = "key" | "string" | "number" | "boolean" | "null" | "punct" | "space" | "invalid";

export interface JsonToken {
  kind: JsonTokenKind;
  text: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SPACE = /\s+/y;
const STRING = /"(?:[^"\\\n]|\\.)*"/y;
const WORD = /true|false|null/y;

function matchAt(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(text);
  return m ? m[0] : undefined;
}

/** Splits JSON text into tokens whose texts concatenate back to `text`. */
export function tokenizeJson(text: string): JsonToken[] {
  const tokens: JsonToken[] = [];
  let at = 0;
  while (at < text.length) {
    const ch = text[at] as string;
    let tok: JsonToken | undefined;
    const space = matchAt(SPACE, text, at);
    if (space) tok = { kind: "space", text: space };
    else if ("{}[],:".includes(ch)) tok = { kind: "punct", text: ch };
    else if (ch === '"') {
      const str = matchAt(STRING, text, at);
      if (str) tok = { kind: isKey(text, at + str.length) ? "key" : "string", text: str };
    } else if (ch === "-" || (ch >= "0" && ch <= "9")) {
      const num = matchAt(NUMBER, text, at);
      if (num) tok = { kind: "number", text: num };
    } else {
      const word = matchAt(WORD, text, at);
      if (word) tok = { kind: word === "null" ? "null" : "boolean", text: word };
    }
    if (!tok) {
      // Everything from the first unreadable character on is shown verbatim.
      tokens.push({ kind: "invalid", text: text.slice(at) });
      break;
    }
    tokens.push(tok);
    at += tok.text.length;
  }
  return tokens;
}

function isKey(text: string, after: number): boolean {
  SPACE.lastIndex = after;
  const m = SPACE.exec(text);
  const next = m ? after + m[0].length : after;
  return text[next] === ":";
}

/** Pretty-prints JSON text when it parses; otherwise returns it unchanged. */
export function formatJson(text: string): { text: string; valid: boolean } {
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), valid: true };
  } catch {
    return { text, valid: false };
  }
}

export interface JsonCheck {
  ok: boolean;
  value?: unknown;
  /** A sentence a person can act on, with line and column when known. */
  error?: string;
}

/** Validates an edited payload before retry: JSON, and an object (event data). */
export function checkEditedPayload(text: string): JsonCheck {
  if (!text.trim()) return { ok: false, error: _t("The payload is empty.") };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: _t("Not valid JSON: %s", describeJsonError(text, err as Error)) };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: _t("The event data must be a JSON object ({ … }).") };
  }
  return { ok: true, value };
}

function describeJsonError(text: string, err: Error): string {
  const pos = /position (\d+)/.exec(err.message);
  if (!pos) return err.message;
  const offset = Number(pos[1]);
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = (before[before.length - 1] ?? "").length + 1;
  return _t("%(error)s (line %(line)s, column %(column)s)", {
    error: err.message.replace(/\s*\(line \d+ column \d+\)/, ""),
    line,
    column,
  });
}

/** Large payloads are highlighted up to this size; the rest is shown plain. */
export const HIGHLIGHT_LIMIT = 64 * 1024;
