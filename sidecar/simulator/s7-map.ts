// Where the simulated line's S7 PLC keeps each machine's tags: one data block
// per machine (DB 100 + its index), laid out as a standard-access DB with
// these declarations would be. The rules (rules.ts) read these addresses; the
// S7 output (devstack/sim-s7-plc.ts) writes them.
import type { TagName } from "./line.ts";

/** Machine `index` keeps its tags in DB S7_FIRST_DB + index, of S7_DB_SIZE bytes. */
export const S7_FIRST_DB = 100;
export const S7_DB_SIZE = 128;

const LAYOUT: Record<TagName, string> = {
  State: "INT0",
  GoodCount: "UDINT2",
  ScrapCount: "UDINT6",
  Started: "X10.0",
  Completed: "X10.1",
  ReasonCode: "S12.16",
  CurrentOrder: "S30.32",
  Operation: "S64.40",
};

export function s7TagAddress(index: number, tag: TagName): string {
  return `DB${S7_FIRST_DB + index},${LAYOUT[tag]}`;
}
