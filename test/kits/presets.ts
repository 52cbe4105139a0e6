// The payload mapping presets as the module ships them
// (odoo_addon/shopfloor_bridge/data/shopfloor_payload_presets.xml), read
// the way Odoo's data loader reads those records, for tests that evaluate
// them without an Odoo.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PayloadMapping } from "../../sidecar/src/core/contract.ts";

export interface Preset {
  xmlid: string;
  code: string;
  name: string;
  description: string;
  kind: PayloadMapping["kind"];
  transport: PayloadMapping["transport"];
  match: string;
  expression: string;
  id_fields: string;
  payload_format: PayloadMapping["payload_format"];
  sample_payload: string;
}

const repoRoot = join(import.meta.dirname, "../..");
export const PRESETS_XML = join(repoRoot, "odoo_addon/shopfloor_bridge/data/shopfloor_payload_presets.xml");

const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** A field's text: CDATA as is, otherwise unescaped (Odoo strips neither). */
function fieldText(body: string): string {
  const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(body);
  return cdata ? (cdata[1] as string) : unescapeXml(body);
}

export function loadPresets(path = PRESETS_XML): Preset[] {
  const xml = readFileSync(path, "utf8");
  const presets: Preset[] = [];
  for (const record of xml.matchAll(
    /<record\s+id="([^"]+)"\s+model="shopfloor\.payload\.preset"\s*>([\s\S]*?)<\/record>/g,
  )) {
    const fields: Record<string, string> = {};
    for (const field of (record[2] as string).matchAll(/<field\s+name="([^"]+)"\s*>([\s\S]*?)<\/field>/g)) {
      fields[field[1] as string] = fieldText(field[2] as string);
    }
    presets.push({
      xmlid: record[1] as string,
      code: fields.code ?? "",
      name: fields.name ?? "",
      description: fields.description ?? "",
      kind: (fields.kind ?? "events") as Preset["kind"],
      transport: (fields.transport ?? "mqtt") as Preset["transport"],
      match: fields.match ?? "",
      expression: fields.expression ?? "",
      id_fields: fields.id_fields ?? "",
      payload_format: (fields.payload_format ?? "json") as Preset["payload_format"],
      sample_payload: fields.sample_payload ?? "",
    });
  }
  return presets;
}

export function preset(code: string, presets = loadPresets()): Preset {
  const found = presets.find((p) => p.code === code);
  if (!found) throw new Error(`no preset ${code} in ${PRESETS_XML}`);
  return found;
}

/** The preset as the sidecar receives a mapping made from it (PayloadMapping). */
export function presetMapping(p: Preset, id = 1, revision = 1): PayloadMapping {
  return {
    id,
    name: p.name,
    kind: p.kind,
    transport: p.transport,
    match: p.match,
    expression: p.expression,
    id_fields: p.id_fields
      .split(/[\n,]/)
      .map((f) => f.trim())
      .filter(Boolean),
    payload_format: p.payload_format,
    revision,
  };
}

export interface Recorded {
  topic: string;
  payload: unknown;
}

/** A recorded stream of a kit: one `{topic, payload}` per line. */
export function readRecorded(relativePath: string): Recorded[] {
  return readFileSync(join(repoRoot, relativePath), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Recorded);
}

/** The bytes a producer publishes for a recorded payload (compact JSON, or the text itself). */
export function payloadBytes(payload: unknown): string {
  return typeof payload === "string" ? payload : JSON.stringify(payload);
}
