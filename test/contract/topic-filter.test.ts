// The module's MQTT topic-filter matching (odoo_addon/shopfloor_bridge/topic_filter.py,
// used to check a payload mapping's match and to pick the rejected payloads it
// takes) against an independent reference model of MQTT 5 §4.7 written here as
// regular expressions, over filters and topics fast-check generates. A "topic"
// that is empty or holds a wildcard matches nothing. The sidecar's own
// topicMatches (sidecar/src/mapping/evaluate.ts) must give the same answers:
// what Odoo offers to re-map is what the sidecar would have taken.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unsendable } from "../../sidecar/src/core/mqtt-text.ts";
import { mqttFilterProblem, topicMatches } from "../../sidecar/src/mapping/evaluate.ts";
import { routeOf } from "../../sidecar/src/sources/http/routes.ts";
import { sparkplugAddressProblem } from "../../sidecar/src/sources/sparkplug/host.ts";

const MODULE_DIR = join(import.meta.dirname, "../../odoo_addon/shopfloor_bridge");
// topic_filter.py imports nothing of Odoo: load it by path, as a plain module.
const PYTHON_BATCH = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("topic_filter", sys.argv[1] + "/topic_filter.py")
tf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tf)
cases = json.load(sys.stdin)
out = []
for pattern, topic in cases:
    error = tf.mqtt_filter_error(pattern)
    out.append([error == "", (not error) and tf.topic_matches(pattern, topic)])
json.dump(out, sys.stdout)
`;

function pythonVerdicts(cases: [string, string][]): [boolean, boolean][] {
  const run = spawnSync("python3", ["-c", PYTHON_BATCH, MODULE_DIR], {
    input: JSON.stringify(cases),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as [boolean, boolean][];
}

/**
 * Reference: a filter is valid when '#' is a whole last level and '+' a whole level, and it holds
 * none of what MQTT 5 §1.5.4 lets a broker refuse: a control character (C0, DEL, C1), a Unicode
 * non-character (U+FDD0 to U+FDEF, the last two code points of each plane) or a lone surrogate.
 */
function referenceValid(pattern: string): boolean {
  if (pattern.length === 0) return false;
  if (/[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u.test(pattern)) return false;
  const levels = pattern.split("/");
  return levels.every(
    (level, index) =>
      (!level.includes("#") || (level === "#" && index === levels.length - 1)) &&
      (!level.includes("+") || level === "+"),
  );
}

/** Reference: the filter as an anchored regular expression. */
function referenceMatches(pattern: string, topic: string): boolean {
  if (topic === "" || /[+#]/.test(topic)) return false; // not a topic
  if (topic.startsWith("$") && (pattern.startsWith("+") || pattern.startsWith("#"))) return false;
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  let source: string;
  if (pattern === "#") source = ".*";
  else {
    const multi = pattern.endsWith("/#");
    const levels = (multi ? pattern.slice(0, -2) : pattern).split("/");
    source = levels.map((level) => (level === "+" ? "[^/]*" : literal(level))).join("/") + (multi ? "(/.*)?" : "");
  }
  return new RegExp(`^${source}$`, "s").test(topic);
}

const filterLevel = fc.constantFrom(
  "a",
  "b",
  "",
  "+",
  "#",
  "$SYS",
  "a+",
  "b#",
  "+a",
  "é/",
  "x y",
  "\u0001",
  "x\u0085",
  "\u007f",
  "\u009f",
  "\ufdd0",
  "\uffff",
  "\u{10fffe}",
  "\ud800",
  "😀",
  "\u00a0",
  "\ufeff",
);
const topicLevel = fc.constantFrom("a", "b", "", "$SYS", "+", "#", "é", "x y");
const filterLevels = fc.array(filterLevel, { minLength: 1, maxLength: 5 });
const topicArb = fc.array(topicLevel, { minLength: 1, maxLength: 6 }).map((levels) => levels.join("/"));
/** A filter and a topic made from it (wildcards filled in), so that matches are common. */
const derivedArb = fc
  .tuple(filterLevels, fc.array(topicLevel, { minLength: 8, maxLength: 8 }), fc.nat(2))
  .map(([levels, fills, rest]): [string, string] => {
    const topic = levels.flatMap((level, index) =>
      level === "+" ? [fills[index]] : level === "#" ? fills.slice(0, rest) : [level],
    );
    return [levels.join("/"), topic.join("/")];
  });
const caseArb = fc.oneof(
  fc.tuple(
    filterLevels.map((levels) => levels.join("/")),
    topicArb,
  ),
  derivedArb,
);

describe("topic_filter.py matches MQTT topic filters as the reference model", () => {
  it("agrees on validity and matching for generated filters and topics", () => {
    const cases = fc.sample(caseArb, { seed: 17, numRuns: 4000 });
    const verdicts = pythonVerdicts(cases);
    expect(verdicts).toHaveLength(cases.length);
    const differences = cases.flatMap(([pattern, topic], index) => {
      const valid = referenceValid(pattern);
      const expected: [boolean, boolean] = [valid, valid && referenceMatches(pattern, topic)];
      const got = verdicts[index];
      return got?.[0] === expected[0] && got[1] === expected[1] ? [] : [{ pattern, topic, expected, got }];
    });
    expect(differences.slice(0, 10)).toEqual([]);
    const sidecarDifferences = cases.flatMap(([pattern, topic], index) => {
      const valid = mqttFilterProblem(pattern) === undefined;
      const sidecar: [boolean, boolean] = [valid, valid && topicMatches(pattern, topic)];
      const got = verdicts[index];
      return got?.[0] === sidecar[0] && got[1] === sidecar[1] ? [] : [{ pattern, topic, sidecar, got }];
    });
    expect(sidecarDifferences.slice(0, 10)).toEqual([]);
    // The generator reaches both outcomes often enough to mean something.
    const matched = verdicts.filter(([, matches]) => matches).length;
    const invalid = verdicts.filter(([valid]) => !valid).length;
    expect(matched).toBeGreaterThan(200);
    expect(invalid).toBeGreaterThan(200);
  });
});

const UNSENDABLE_RANGES = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("topic_filter", sys.argv[1] + "/topic_filter.py")
tf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tf)
ranges = []
for point in range(0x110000):
    if tf.unsendable(chr(point)) == point:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
json.dump(ranges, sys.stdout)
`;

describe("Odoo and the sidecar refuse the same characters in what they send to a broker", () => {
  it("topic_filter.unsendable and mqtt-text's unsendable agree on every code point", () => {
    const run = spawnSync("python3", ["-c", UNSENDABLE_RANGES, MODULE_DIR], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const ranges: [number, number][] = [];
    for (let point = 0; point <= 0x10ffff; point++) {
      if (unsendable(String.fromCodePoint(point)) !== point) continue;
      const last = ranges.at(-1);
      if (last && last[1] === point - 1) last[1] = point;
      else ranges.push([point, point]);
    }
    expect(JSON.parse(run.stdout)).toEqual(ranges);
    expect(ranges).toHaveLength(4 + 17);
  });
});

/** `topic_filter.<call>(item)` for each item, run by the module's Python (topic_filter.py loaded by path). */
function moduleErrors(call: string, items: string[]): string[] {
  const script = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("topic_filter", sys.argv[1] + "/topic_filter.py")
tf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tf)
json.dump([tf.${call} for item in json.load(sys.stdin)], sys.stdout)
`;
  const run = spawnSync("python3", ["-c", script, MODULE_DIR], {
    input: JSON.stringify(items),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as string[];
}

describe("the HTTP intake takes exactly the routes a mapping in Odoo may name", () => {
  // A route without wildcards that Odoo accepts as a mapping's route is one the sidecar's intake
  // takes at POST /routes/<route> (percent-encoded), and the other way round: no mapping names a
  // route nobody can post, no posted route is one no mapping may name.
  const level = fc.oneof(
    fc.constantFrom("line1", "", "a b", "é", "😀", "$SYS", "x\u0085y", "tab\t", "del\u007f", "%41", "."),
    fc.string({ maxLength: 6 }),
  );
  const route = fc
    .oneof(
      fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join("/")),
      fc.integer({ min: 120, max: 140 }).map((n) => `plant/${"😀".repeat(n)}`),
      fc.integer({ min: 250, max: 260 }).map((n) => "r".repeat(n)),
    )
    .filter((text) => !/[+#]/.test(text));

  it("agrees with topic_filter.py's route_error on generated routes", () => {
    const routes = fc.sample(route, { seed: 23, numRuns: 3000 });
    const errors = moduleErrors("route_error(item)", routes);
    const differences = routes.flatMap((text, index) => {
      const taken = routeOf(`/routes/${text.split("/").map(encodeURIComponent).join("/")}`).ok;
      return taken === (errors[index] === "") ? [] : [{ route: text, taken, odoo: errors[index] }];
    });
    expect(differences.slice(0, 10)).toEqual([]);
    expect(errors.filter((error) => error === "").length).toBeGreaterThan(300);
    expect(errors.filter((error) => error !== "").length).toBeGreaterThan(300);
  });

  it("counts a route's length in characters, as Odoo does: 200 emoji are 200, not 400", () => {
    expect(routeOf(`/routes/${encodeURIComponent("😀".repeat(200))}`).ok).toBe(true);
    expect(routeOf(`/routes/${encodeURIComponent("😀".repeat(257))}`).ok).toBe(false);
  });
});

describe("a Sparkplug B rule address: the module refuses what the sidecar's host would never read", () => {
  const level = fc.oneof(
    fc.constantFrom("Plant1", "Plant2", "Edge", "Press03", "", "a+b", "#", "x\u0085y", "del\u007f", "\ufffe", "é", " "),
    fc.string({ maxLength: 5 }),
  );
  const address = fc.oneof(
    fc.array(level, { minLength: 1, maxLength: 6 }).map((levels) => levels.join("/")),
    fc.tuple(level, level, level, level).map((levels) => `Plant1/${levels.join("/")}`),
  );

  it("agrees with topic_filter.py's sparkplug_address_error on generated addresses", () => {
    const addresses = fc.sample(address, { seed: 31, numRuns: 3000 });
    const errors = moduleErrors('sparkplug_address_error(item, "Plant1")', addresses);
    const differences = addresses.flatMap((text, index) => {
      const read = sparkplugAddressProblem(text, "Plant1") === undefined;
      return read === (errors[index] === "") ? [] : [{ address: text, read, odoo: errors[index] }];
    });
    expect(differences.slice(0, 10)).toEqual([]);
    expect(errors.filter((error) => error === "").length).toBeGreaterThan(100);
    expect(errors.filter((error) => error !== "").length).toBeGreaterThan(300);
  });
});
