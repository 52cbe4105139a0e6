// A synchronous evaluator for the plain shapes most payload mappings have —
// `values[q = true].{ "address": id, "value": v, "time": $fromMillis(t) }`,
// `{ "address": $topic, "value": $ }` — compiled from the JSONata syntax tree.
// JSONata itself evaluates every node through promises, which costs more
// than the rest of the sidecar's work on a mapped value together; this does
// the same work in plain JavaScript. It is an accelerator, never a second
// language: anything outside the shapes below is not compiled, and any input
// whose meaning it is not sure to share with JSONata (arrays where a value
// is expected, a number where a boolean is, a time out of range) makes it
// give up (`BAIL`) so that JSONata evaluates that payload. A property test
// (fastpath.test.ts) holds its results equal to JSONata's.
//
// Browser-safe like evaluate.ts: no imports but types.
import type jsonata from "jsonata";

export const BAIL: unique symbol = Symbol("bail");
type Bail = typeof BAIL;

export interface FastBindings {
  topic: string;
  headers: Record<string, string>;
  receivedAt: string;
  connection: string;
}

/** One compiled expression: `(document, bindings) → result | BAIL`. */
export type FastProgram = (document: unknown, bindings: FastBindings) => unknown | Bail;

/** A syntax-tree node; its `type` is read as text (the tree has kinds, such as `path` and `filter`, the typings lack). */
type Node = Omit<jsonata.ExprNode, "type"> & { type: string } & Record<string, unknown>;
/** An expression of an object constructor's value: evaluated against one context item. */
type Value = (context: unknown, root: unknown, bindings: FastBindings) => unknown | Bail;

/** Node properties the compiled shapes use; a node with any other (grouping, focus, keepArray…) is not compiled. */
const KNOWN_KEYS = new Set([
  "type",
  "value",
  "position",
  "steps",
  "stages",
  "lhs",
  "rhs",
  "expr",
  "arguments",
  "procedure",
  "condition",
  "then",
  "else",
  "expressions",
]);

class NotCompiled extends Error {}

function check(node: unknown): Node {
  if (!node || typeof node !== "object") throw new NotCompiled();
  for (const [key, member] of Object.entries(node)) {
    // Function calls carry `name` (undefined but for partial application, which is not compiled).
    if (!KNOWN_KEYS.has(key) && !(key === "name" && member === undefined)) throw new NotCompiled();
  }
  return node as Node;
}

/** The fast program for an expression's syntax tree, or undefined when its shape is not one it knows. */
export function compileFastPath(ast: jsonata.ExprNode): FastProgram | undefined {
  try {
    const root = check(ast);
    if (root.type === "unary" && root.value === "{") {
      const build = objectConstructor(root);
      return (document, bindings) => (Array.isArray(document) ? BAIL : build(document, document, bindings));
    }
    if (root.type === "path") return pathProgram(root);
    return undefined;
  } catch (err) {
    if (err instanceof NotCompiled) return undefined;
    throw err;
  }
}

/** `a.b[filter].{…}`: name steps with boolean filters, ending in an object constructor. */
function pathProgram(path: Node): FastProgram {
  const steps = (path.steps ?? []).map(check);
  const last = steps.at(-1);
  if (!last || steps.length < 2 || last.type !== "unary" || last.value !== "{" || last.stages) throw new NotCompiled();
  const build = objectConstructor(last);
  const walks = steps.slice(0, -1).map((step) => {
    if (step.type !== "name" || typeof step.value !== "string") throw new NotCompiled();
    const filters = ((step.stages as unknown[] | undefined) ?? []).map((stage) => {
      const filter = check(stage);
      if (filter.type !== "filter") throw new NotCompiled();
      return predicate(check(filter.expr));
    });
    return { name: step.value, filters };
  });
  return (document, bindings) => {
    if (Array.isArray(document)) return BAIL;
    let items: unknown[] = [document];
    for (const walk of walks) {
      const next: unknown[] = [];
      for (const item of items) {
        const value = field(item, walk.name);
        if (value === BAIL) return BAIL;
        if (value === undefined) continue;
        if (Array.isArray(value)) {
          for (const element of value) {
            if (Array.isArray(element)) return BAIL;
            next.push(element);
          }
        } else next.push(value);
      }
      items = [];
      for (const item of next) {
        let keep = true;
        for (const filter of walk.filters) {
          const verdict = filter(item, document, bindings);
          if (verdict === BAIL) return BAIL;
          if (!verdict) {
            keep = false;
            break;
          }
        }
        if (keep) items.push(item);
      }
    }
    const out: unknown[] = [];
    for (const item of items) {
      // JSONata builds an object per item of any kind; only objects are taken here.
      if (item === null || typeof item !== "object") return BAIL;
      const built = build(item, document, bindings);
      if (built === BAIL) return BAIL;
      out.push(built);
    }
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : out;
  };
}

/** A member of an object; arrays (whose members JSONata maps over) are left to JSONata. */
function field(item: unknown, name: string): unknown | Bail {
  if (item === null || typeof item !== "object") return undefined;
  if (Array.isArray(item)) return BAIL;
  return Object.hasOwn(item, name) ? (item as Record<string, unknown>)[name] : undefined;
}

/** A filter stage: `[flag]` (a boolean) or `[name = literal]`, `[name != literal]`. */
function predicate(expr: Node): (item: unknown, root: unknown, bindings: FastBindings) => boolean | Bail {
  if (expr.type === "path") {
    const read = value(expr);
    return (item, root, bindings) => {
      const flag = read(item, root, bindings);
      if (flag === undefined) return false;
      return typeof flag === "boolean" ? flag : BAIL;
    };
  }
  if (expr.type === "binary" && (expr.value === "=" || expr.value === "!=")) {
    const compare = comparison(expr);
    return (item, root, bindings) => {
      const verdict = compare(item, root, bindings);
      return verdict === undefined ? false : (verdict as boolean | Bail);
    };
  }
  throw new NotCompiled();
}

function objectConstructor(node: Node): Value {
  const pairs = node.lhs as unknown as [unknown, unknown][];
  if (!Array.isArray(pairs)) throw new NotCompiled();
  const keys = new Set<string>();
  const compiled = pairs.map(([keyNode, valueNode]) => {
    const key = check(keyNode);
    if (key.type !== "string" || typeof key.value !== "string" || keys.has(key.value)) throw new NotCompiled();
    keys.add(key.value);
    return { key: key.value, read: value(check(valueNode)) };
  });
  return (context, root, bindings) => {
    const out: Record<string, unknown> = {};
    for (const { key, read } of compiled) {
      const result = read(context, root, bindings);
      if (result === BAIL) return BAIL;
      if (result !== undefined) out[key] = result;
    }
    return out;
  };
}

const BINDINGS = new Set(["topic", "headers", "receivedAt", "connection"]);

function value(node: Node): Value {
  switch (node.type) {
    case "string":
    case "number":
    case "value": {
      const literal = node.value;
      return () => literal;
    }
    case "variable":
      return variable(node);
    case "path":
      return relativePath(node);
    case "unary":
      if (node.value === "{") return objectConstructor(node);
      throw new NotCompiled();
    case "function":
      return functionCall(node);
    case "condition":
      return condition(node);
    case "binary":
      return binary(node);
    case "block": {
      // `( expr )`: parentheses around one expression.
      const inner = node.expressions as unknown[] | undefined;
      if (!Array.isArray(inner) || inner.length !== 1) throw new NotCompiled();
      return value(check(inner[0]));
    }
    default:
      throw new NotCompiled();
  }
}

function variable(node: Node): Value {
  const name = node.value;
  if (name === "") return (context) => (Array.isArray(context) ? BAIL : context);
  if (name === "$") return (_, root) => root;
  if (typeof name === "string" && BINDINGS.has(name)) {
    return (_, __, bindings) => bindings[name as keyof FastBindings];
  }
  throw new NotCompiled();
}

/** `a.b.c`, `$$.a`, `$.a`: members of plain objects, no arrays on the way or at the end. */
function relativePath(node: Node): Value {
  const steps = (node.steps ?? []).map(check);
  if (steps.length === 0) throw new NotCompiled();
  let start: Value = (context) => context;
  let names = steps;
  const first = steps[0] as Node;
  if (first.type === "variable") {
    if (first.value !== "$" && first.value !== "") throw new NotCompiled();
    start = first.value === "$" ? (_, root) => root : (context) => context;
    names = steps.slice(1);
    if (names.length === 0) throw new NotCompiled();
  }
  const keys = names.map((step) => {
    if (step.type !== "name" || typeof step.value !== "string" || step.stages) throw new NotCompiled();
    return step.value;
  });
  return (context, root, bindings) => {
    let at = start(context, root, bindings);
    for (const key of keys) {
      if (Array.isArray(at)) return BAIL;
      at = field(at, key);
      if (at === BAIL) return BAIL;
      if (at === undefined) return undefined;
    }
    return Array.isArray(at) ? BAIL : at;
  };
}

/** Largest time in ms that ISO 8601 writes with a four-digit year, as `$fromMillis` does by default. */
const MAX_ISO_MS = 253_402_300_799_999;

function functionCall(node: Node): Value {
  const procedure = check(node.procedure);
  const args = (node.arguments as unknown[] | undefined)?.map((a) => value(check(a))) ?? [];
  if (procedure.type !== "variable" || args.length !== 1) throw new NotCompiled();
  const [argument] = args as [Value];
  switch (procedure.value) {
    case "exists":
      return (context, root, bindings) => {
        const result = argument(context, root, bindings);
        return result === BAIL ? BAIL : result !== undefined;
      };
    case "fromMillis":
    case "isoTime":
      return (context, root, bindings) => {
        const ms = argument(context, root, bindings);
        if (ms === undefined || ms === BAIL) return ms;
        if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > MAX_ISO_MS) return BAIL;
        return new Date(ms).toISOString();
      };
    default:
      throw new NotCompiled();
  }
}

function condition(node: Node): Value {
  const test = value(check(node.condition));
  const then = value(check(node.then));
  const otherwise = node.else === undefined ? () => undefined : value(check(node.else));
  return (context, root, bindings) => {
    const verdict = test(context, root, bindings);
    if (verdict === BAIL || (verdict !== undefined && typeof verdict !== "boolean")) return BAIL;
    return verdict ? then(context, root, bindings) : otherwise(context, root, bindings);
  };
}

/** `=`/`!=` between primitives (or a missing value), undefined when a side is missing. */
function comparison(node: Node): Value {
  const left = value(check(node.lhs));
  const right = value(check(node.rhs));
  const negate = node.value === "!=";
  return (context, root, bindings) => {
    const lhs = left(context, root, bindings);
    const rhs = right(context, root, bindings);
    if (lhs === BAIL || rhs === BAIL) return BAIL;
    if ((lhs !== null && typeof lhs === "object") || (rhs !== null && typeof rhs === "object")) return BAIL;
    if (lhs === undefined || rhs === undefined) return false;
    return negate ? lhs !== rhs : lhs === rhs;
  };
}

function binary(node: Node): Value {
  if (node.value === "=" || node.value === "!=") return comparison(node);
  if (node.value === "&") {
    const left = value(check(node.lhs));
    const right = value(check(node.rhs));
    return (context, root, bindings) => {
      const lhs = left(context, root, bindings);
      const rhs = right(context, root, bindings);
      if (lhs === BAIL || rhs === BAIL) return BAIL;
      // Only text joins the same way in both: JSONata writes numbers its own way.
      if ((lhs !== undefined && typeof lhs !== "string") || (rhs !== undefined && typeof rhs !== "string")) return BAIL;
      return (lhs ?? "") + (rhs ?? "");
    };
  }
  throw new NotCompiled();
}
