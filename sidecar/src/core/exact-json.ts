// JSON text parsed so that writing it back gives the same numbers, byte for
// byte. JSON.parse reads every number as a double: an integer past 2^53 is
// rounded, 1e400 becomes Infinity (which JSON.stringify writes as null),
// 5.0 is written back as 5. Odoo's Python reads integers exactly and tells
// 5.0 from 5, so a spooled event is sent with each number as it arrived:
// where the double would write differently, the number is kept as its
// source text (JSON.rawJSON, which JSON.stringify emits verbatim).

/** The parts of Node 24's JSON that lib es2023 does not declare. */
interface JsonWithSource {
  parse(text: string, reviver: (key: string, value: unknown, context: { source?: string }) => unknown): unknown;
  rawJSON(text: string): unknown;
}
const json = JSON as unknown as JsonWithSource;

function keepNumberText(_key: string, value: unknown, context: { source?: string }): unknown {
  if (typeof value === "number" && context.source !== undefined && JSON.stringify(value) !== context.source) {
    return json.rawJSON(context.source);
  }
  return value;
}

/** Parses JSON text; every number JSON.stringify would write differently stays as its text. */
export function parseExact<T>(text: string): T {
  return json.parse(text, keepNumberText) as T;
}
