// Runs the Tahu peer (TahuPeer.java): fetches its jars with Maven when
// `lib/` is missing (.ci/run does it up front), compiles it with javac when
// the class is older than the source, and runs it.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PEER_DIR = dirname(fileURLToPath(import.meta.url));
const LIB = join(PEER_DIR, "lib");
const CLASSES = join(PEER_DIR, "classes");
const SOURCE = join(PEER_DIR, "TahuPeer.java");

function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ["-version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why the peer cannot run here, or undefined when it can. */
export function tahuPeerUnavailable(): string | undefined {
  for (const tool of ["java", "javac"]) if (!hasTool(tool)) return `${tool} (JDK 17+) is not installed`;
  if (!existsSync(LIB) && !hasTool("mvn")) return "Maven is not installed and test/peers/tahu/lib is empty";
  return undefined;
}

export function buildTahuPeer(): void {
  if (!existsSync(LIB) || !readdirSync(LIB).some((f) => f.startsWith("tahu-core-"))) {
    execFileSync("mvn", ["-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=lib"], {
      cwd: PEER_DIR,
      stdio: "inherit",
      timeout: 600_000,
    });
  }
  const compiled = join(CLASSES, "TahuPeer.class");
  if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(SOURCE).mtimeMs) {
    execFileSync("javac", ["-d", CLASSES, "-cp", join(LIB, "*"), SOURCE], { stdio: "inherit", timeout: 120_000 });
  }
}

export function runTahuPeer(args: string[]): string {
  return execFileSync("java", ["-cp", `${join(LIB, "*")}:${CLASSES}`, "TahuPeer", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
}

/** What the peer says it encoded, per message (manifest.json). */
export interface ManifestMessage {
  topic: string;
  file: string;
  timestamp: number;
  seq: number;
  metrics: ManifestMetric[];
}

export interface ManifestMetric {
  name: string | null;
  alias: number | null;
  type: string;
  timestamp: number | null;
  isHistorical?: boolean;
  isTransient?: boolean;
  /** 64-bit integers as decimal text, DateTime as ms, bytes as base64, Float widened to double. */
  value: unknown;
  properties?: Record<string, { type: string; value: unknown }>;
}
