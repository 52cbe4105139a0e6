// Where the simulated line's Logix controller keeps each machine's tags over
// EtherNet/IP: members of a UDT tag named after the machine, and its part
// counters as tags of a program named after it, as a Logix project often
// splits them. The rules (rules.ts) read these addresses; the EtherNet/IP
// output (devstack/sim-enip-plc.ts) writes them.
import { TAG_TYPES, type TagName } from "./line.ts";

export function enipTagAddress(machine: string, tag: TagName): string {
  return tag === "GoodCount" || tag === "ScrapCount" ? `Program:${machine}.${tag}` : `${machine}.${tag}`;
}

/** The Logix type of each tag: DINT for numbers, the Logix STRING for text, BOOL. */
export function enipTagType(tag: TagName): "DINT" | "STRING" | "BOOL" {
  const type = TAG_TYPES[tag];
  return type === "String" ? "STRING" : type === "Boolean" ? "BOOL" : "DINT";
}
