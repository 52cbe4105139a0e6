import fc from "fast-check";
import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import { BAIL, compileFastPath, type FastBindings } from "./fastpath.ts";

const bindings: FastBindings = {
  topic: "plant1/line1/press-01/GoodCount",
  headers: { line: "L1" },
  receivedAt: "2026-11-22T06:00:01.500Z",
  connection: "line1",
};

/** Results as runMapping reads them: JSON values (JSONata's sequences are arrays with extra members). */
function plain(value: unknown): unknown {
  return value === undefined ? "(nothing)" : JSON.parse(JSON.stringify(value));
}

async function viaJsonata(
  expression: string,
  document: unknown,
): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: plain(await jsonata(expression).evaluate(document, bindings)) };
  } catch {
    return { ok: false };
  }
}

// Expressions of the shapes the fast path compiles, and some it does not.
const names = fc.constantFrom("id", "v", "q", "t", "a", "order");
const literal = fc.constantFrom("true", "false", "null", "1", "0", '"a"', '"Good"', "1796104859870");
const key = fc.constantFrom("address", "value", "time", "source", "type", "data", "k");

const valueExpr: fc.Arbitrary<string> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    names,
    names.map((n) => `a.${n}`),
    names.map((n) => `$$.${n}`),
    fc.constantFrom("$", "$topic", "$receivedAt", "$connection", "$$.timestamp", "$.v"),
    literal,
  ),
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    tie("leaf").map((x) => `$fromMillis(${x})`),
    fc.tuple(tie("leaf"), tie("leaf"), tie("leaf")).map(([a, b, c]) => `$exists(${a}) ? ${b} : ${c}`),
    fc.tuple(tie("leaf"), tie("leaf")).map(([a, b]) => `${a} & ${b}`),
    fc.tuple(tie("leaf"), tie("leaf")).map(([a, b]) => `(${a} = ${b})`),
    fc.tuple(tie("leaf"), tie("leaf")).map(([a, b]) => `(${a} != ${b})`),
    fc.tuple(tie("leaf"), tie("leaf"), tie("leaf")).map(([a, b, c]) => `(${a} = ${b}) ? ${c} : "no"`),
    fc.tuple(key, tie("leaf")).map(([k, v]) => `{ "${k}": ${v} }`),
  ),
})).expr as fc.Arbitrary<string>;

const objectExpr = fc
  .uniqueArray(fc.tuple(key, valueExpr), { minLength: 1, maxLength: 4, selector: ([k]) => k })
  .map((pairs) => `{ ${pairs.map(([k, v]) => `"${k}": ${v}`).join(", ")} }`);

const filter = fc.oneof(
  fc.constant(""),
  names.map((n) => `[${n}]`),
  fc.tuple(names, literal).map(([n, l]) => `[${n} = ${l}]`),
  fc.tuple(names, literal).map(([n, l]) => `[${n} != ${l}]`),
);

const expression = fc.oneof(
  objectExpr,
  fc
    .tuple(fc.constantFrom("values", "records", "a", "data.values", "values.v"), filter, objectExpr)
    .map(([path, f, c]) => `${path}${f}.${c}`),
);

// Documents: the Kepware shape with any kind of value where one is expected.
const scalar = fc.oneof(
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(1796104859870, 8.64e15, 1.5, -1, "Good", "a", "", "1796104859870", "2026-11-22T06:00:00Z"),
  fc.constant(null),
);
const anyValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(names, scalar, { maxKeys: 3 }));
const item = fc.record(
  {
    id: anyValue,
    v: anyValue,
    q: anyValue,
    t: anyValue,
    a: fc.oneof(anyValue, fc.dictionary(names, anyValue, { maxKeys: 3 })),
  },
  { requiredKeys: [] },
);
const document = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        timestamp: scalar,
        values: fc.oneof(
          { weight: 4, arbitrary: fc.array(item, { maxLength: 5 }) },
          item,
          scalar,
          fc.array(fc.array(item, { maxLength: 2 }), { maxLength: 2 }),
        ),
        records: fc.array(item, { maxLength: 3 }),
        a: item,
        data: fc.record({ values: fc.array(item, { maxLength: 3 }) }),
        id: anyValue,
        v: anyValue,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

describe("the fast path", () => {
  it("gives JSONata's result whenever it gives one", async () => {
    let compiled = 0;
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(expression, document, async (expr, doc) => {
        const program = compileFastPath(jsonata(expr).ast());
        if (!program) return;
        compiled++;
        const fast = program(doc, bindings);
        if (fast === BAIL) return;
        answered++;
        const reference = await viaJsonata(expr, doc);
        expect(reference).toEqual({ ok: true, value: plain(fast) });
      }),
      { numRuns: Number(process.env.SFB_FAST_RUNS ?? 4000) },
    );
    // The property says something only if the fast path answers often.
    expect(compiled).toBeGreaterThan(0.75 * Number(process.env.SFB_FAST_RUNS ?? 4000));
    expect(answered).toBeGreaterThan(0.25 * Number(process.env.SFB_FAST_RUNS ?? 4000));
  }, 600_000);

  it.each([
    'values[q = true].{ "address": id, "value": v, "time": $fromMillis(t) }',
    'values[q].{ "address": id, "value": v, "time": $fromMillis($exists(t) ? t : $$.timestamp) }',
    '{ "address": $topic, "value": $, "time": $receivedAt }',
    'records.{ "source": "plant1/" & $$.line, "type": "production.reported", "time": $isoTime(at), "data": { "order": order, "qty_good": good } }',
  ])("compiles %s", (expr) => {
    expect(compileFastPath(jsonata(expr).ast())).toBeTypeOf("function");
  });

  it.each([
    "$sum(values.v)",
    "values.{ 'a': $number(v) }",
    "values[0].{ 'a': v }",
    "values{ id: v }",
    "values.{ 'a': v, 'a': id }",
    "values#$i.{ 'a': $i }",
    "$map(values, function($x) { $x })",
    "values.{ 'a': v + 1 }",
    "[values].{ 'a': v }",
  ])("leaves %s to JSONata", (expr) => {
    expect(compileFastPath(jsonata(expr).ast())).toBeUndefined();
  });

  it("gives up on values it does not share JSONata's reading of", () => {
    const program = compileFastPath(jsonata('values[q].{ "value": v, "time": $fromMillis(t) }').ast());
    expect(program?.({ values: [{ q: "yes", v: 1 }] }, bindings)).toBe(BAIL);
    expect(program?.({ values: [{ q: true, v: [1, 2] }] }, bindings)).toBe(BAIL);
    expect(program?.({ values: [{ q: true, v: 1, t: 1.5 }] }, bindings)).toBe(BAIL);
    expect(program?.([{ values: [] }], bindings)).toBe(BAIL);
    expect(program?.({ values: [{ q: true, v: 1, t: 0 }] }, bindings)).toEqual({
      value: 1,
      time: "1970-01-01T00:00:00.000Z",
    });
  });
});
