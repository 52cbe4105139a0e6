// The one contract every Source runs (MQTT here; Sparkplug and OPC UA reuse
// it): input reaches the sink, `stop` waits for accepts under way, and input
// whose accept never committed is offered again by the next source with the
// same identity (at-least-once up to the spool, which deduplicates).
import { describe, expect, it } from "vitest";
import type { Intake, Source, SourceSink } from "../../../src/core/ports.ts";

/** Publishes one input upstream that yields one intake containing `marker`. */
export type Publish = (marker: string) => Promise<void>;

export interface SourceContractOptions {
  /** Whether uncommitted input comes back after a restart (true for MQTT QoS 1). */
  redeliversUncommitted?: boolean;
  timeoutMs?: number;
}

/** Text of an intake, to look for a marker in it. */
export function intakeText(intake: Intake): string {
  return intake.kind === "event" ? JSON.stringify(intake.event) : Buffer.from(intake.payload).toString("latin1");
}

/** A sink that records what it commits; `block()` makes accepts hang until `release()`. */
export class RecordingSink implements SourceSink {
  readonly committed: Intake[] = [];
  readonly state: Record<string, unknown> = {};
  /** Accept calls under way, and the items they carry. */
  accepting = 0;
  acceptingItems = 0;
  #blocked: (() => void)[] | undefined;

  block(): void {
    this.#blocked ??= [];
  }

  release(): void {
    const waiting = this.#blocked ?? [];
    this.#blocked = undefined;
    for (const w of waiting) w();
  }

  async accept(items: Intake[], state?: Record<string, unknown>): Promise<undefined> {
    this.accepting++;
    this.acceptingItems += items.length;
    try {
      if (this.#blocked) await new Promise<void>((r) => this.#blocked?.push(r));
      this.committed.push(...items);
      if (state) Object.assign(this.state, state);
    } finally {
      this.accepting--;
      this.acceptingItems -= items.length;
    }
    return undefined;
  }

  async loadState(prefix: string): Promise<Record<string, unknown>> {
    return Object.fromEntries(Object.entries(this.state).filter(([k]) => k.startsWith(prefix)));
  }

  has(marker: string): boolean {
    return this.committed.some((i) => intakeText(i).includes(marker));
  }
}

export function sourceContract(
  name: string,
  makeSource: () => Promise<Source>,
  publish: Publish,
  opts: SourceContractOptions = {},
): void {
  const timeout = opts.timeoutMs ?? 10_000;
  const unique = () => `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  describe(`Source contract: ${name}`, () => {
    it("hands published input to the sink and reports numeric stats", async () => {
      const sink = new RecordingSink();
      const source = await makeSource();
      await source.start(sink);
      try {
        const markers = Array.from({ length: 5 }, unique);
        for (const m of markers) await publish(m);
        await expect.poll(() => markers.every((m) => sink.has(m)), { timeout }).toBe(true);
        for (const v of Object.values(source.stats())) expect(typeof v).toBe("number");
      } finally {
        await source.stop();
      }
    });

    it("stop() waits for accepts under way", async () => {
      const sink = new RecordingSink();
      const source = await makeSource();
      await source.start(sink);
      sink.block();
      const marker = unique();
      await publish(marker);
      await expect.poll(() => sink.accepting, { timeout }).toBeGreaterThan(0);
      let stopped = false;
      const stopping = source.stop().then(() => {
        stopped = true;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(stopped).toBe(false);
      sink.release();
      await stopping;
      expect(sink.has(marker)).toBe(true);
    });

    if (opts.redeliversUncommitted) {
      it("offers input again when its accept never committed (source abandoned before the commit)", async () => {
        const first = new RecordingSink();
        first.block();
        const source = await makeSource();
        await source.start(first);
        const marker = unique();
        await publish(marker);
        await expect.poll(() => first.accepting, { timeout }).toBeGreaterThan(0);
        // The process dies here: the accept never commits. `stop` would wait, so abandon it.
        const abort = (source as { abort?: () => Promise<void> }).abort;
        if (!abort) throw new Error(`${source.name} has no abort(): the redelivery contract needs one`);
        await abort.call(source);
        const second = new RecordingSink();
        const again = await makeSource();
        await again.start(second);
        try {
          await expect.poll(() => second.has(marker), { timeout }).toBe(true);
        } finally {
          first.release();
          await again.stop();
        }
      });
    }
  });
}
