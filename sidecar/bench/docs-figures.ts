// `npm run docs:figures [-- --check]`: rewrites the READMEs' marked figure
// tables from sidecar/bench/figures.json; --check only reports stale ones.
import { parseArgs } from "node:util";
import { readSnapshot, regenerateModuleReadme, rewriteFigureDocs } from "./figures.ts";

const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
const changed = rewriteFigureDocs(readSnapshot(), { check: values.check });
if (values.check && changed.length) {
  console.error(`figure tables differ from sidecar/bench/figures.json in:\n  ${changed.join("\n  ")}`);
  console.error("run `npm run docs:figures` to regenerate them");
  process.exit(1);
}
console.log(changed.length ? `rewrote: ${changed.join(", ")}` : "figure tables up to date");
if (!values.check && !regenerateModuleReadme(changed)) process.exit(1);
