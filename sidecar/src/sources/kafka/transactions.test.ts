// Aborted transactions dropped from a fetch response (read_committed): the
// cases @platformatic/kafka 2.12 let through, by name, and a property over
// partition logs of interleaved transactional producers, read through any
// window a fetch may return.
import type { RecordsBatch } from "@platformatic/kafka";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dropAbortedRecords, noteTails, type PartitionTail } from "./transactions.ts";

const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;
/** A producer writing outside transactions (idempotent or not). */
const PLAIN = -1n;

interface Logged {
  batch: RecordsBatch;
  /** For a data batch: the transaction it belongs to (undefined outside one). */
  txn?: number;
}

/** A partition's log, written batch by batch at consecutive offsets. */
class Log {
  readonly entries: Logged[] = [];
  /** Per transaction: producer, first offset, outcome once ended. */
  readonly txns: { producer: bigint; first: bigint; marker?: bigint; aborted?: boolean }[] = [];
  #open = new Map<bigint, number>();
  #offset = 0n;

  data(producer: bigint, records = 1): void {
    let txn: number | undefined;
    if (producer !== PLAIN) {
      txn = this.#open.get(producer);
      if (txn === undefined) {
        txn = this.txns.push({ producer, first: this.#offset }) - 1;
        this.#open.set(producer, txn);
      }
    }
    const values = Array.from({ length: records }, (_, i) => ({ value: Buffer.from(`${this.#offset + BigInt(i)}`) }));
    this.#push(producer === PLAIN ? 0 : TRANSACTIONAL, producer, values, txn);
  }

  end(producer: bigint, abort: boolean): void {
    const txn = this.#open.get(producer);
    if (txn === undefined) return;
    this.#open.delete(producer);
    Object.assign(this.txns[txn] as object, { marker: this.#offset, aborted: abort });
    const key = Buffer.alloc(4);
    key.writeInt16BE(abort ? 0 : 1, 2);
    this.#push(TRANSACTIONAL | CONTROL, producer, [{ key, value: Buffer.alloc(6) }]);
  }

  /** Ends every transaction still open, aborting those `abort` says. */
  endAll(abort: (producer: bigint) => boolean): void {
    for (const producer of [...this.#open.keys()]) this.end(producer, abort(producer));
  }

  #push(attributes: number, producerId: bigint, records: { key?: Buffer; value: Buffer }[], txn?: number): void {
    const batch = {
      firstOffset: this.#offset,
      attributes,
      lastOffsetDelta: records.length - 1,
      producerId,
      records: records.map((r, i) => ({ offsetDelta: i, key: r.key ?? Buffer.alloc(0), value: r.value, headers: [] })),
    } as unknown as RecordsBatch;
    this.entries.push(txn === undefined ? { batch } : { batch, txn });
    this.#offset += BigInt(records.length);
  }

  /**
   * The response to a read_committed fetch of batches [from, to): the
   * batches (copied) and the aborted transactions the broker lists for that
   * range: those that end at or after its first offset and begin before its end.
   */
  fetch(from: number, to: number, shuffle = (list: unknown[]) => list) {
    const entries = this.entries.slice(from, to);
    const start = entries[0]?.batch.firstOffset ?? 0n;
    const last = entries.at(-1)?.batch;
    const upper = last ? last.firstOffset + BigInt(last.lastOffsetDelta) + 1n : 0n;
    const abortedTransactions = shuffle(
      this.txns
        .filter((t) => t.aborted && (t.marker as bigint) >= start && t.first < upper)
        .map((t) => ({ producerId: t.producer, firstOffset: t.first })),
    ) as { producerId: bigint; firstOffset: bigint }[];
    const records = entries.map(({ batch }) => ({ ...batch, records: [...batch.records] }));
    const response = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{ topicId: "t", partitions: [{ partitionIndex: 0, abortedTransactions, records }] }],
    };
    return { response: response as never, entries };
  }
}

/** Offsets of the data records left in a response, in order. */
function delivered(response: { responses: { partitions: { records: RecordsBatch[] }[] }[] }): string[] {
  const batches = response.responses[0]?.partitions[0]?.records ?? [];
  return batches.filter((b) => (b.attributes & CONTROL) === 0).flatMap((b) => b.records.map((r) => String(r.value)));
}

/** What Kafka's read_committed consumer hands over from `entries`: records outside transactions and of committed ones. */
function committedOf(log: Log, entries: Logged[]): string[] {
  return entries
    .filter(({ batch, txn }) => (batch.attributes & CONTROL) === 0 && (txn === undefined || !log.txns[txn]?.aborted))
    .flatMap(({ batch }) => batch.records.map((r) => String(r.value)));
}

describe("dropAbortedRecords", () => {
  it("drops both aborted transactions of a producer that aborted twice in one fetch, keeps the committed one between", () => {
    const log = new Log();
    for (const abort of [true, false, true, false]) {
      log.data(7n, 3);
      log.data(7n, 2);
      log.end(7n, abort);
    }
    const { response, entries } = log.fetch(0, log.entries.length);
    expect(dropAbortedRecords(response)).toBe(10);
    expect(delivered(response)).toEqual(committedOf(log, entries));
    expect(delivered(response)).toEqual(["6", "7", "8", "9", "10", "18", "19", "20", "21", "22"]);
  });

  it("drops an aborted transaction whose marker is beyond this fetch (a transaction larger than one fetch)", () => {
    const log = new Log();
    for (let i = 0; i < 10; i++) log.data(3n, 100);
    log.end(3n, true);
    log.data(3n);
    log.end(3n, false);
    // The first fetch stops half way through the aborted transaction, the next starts there.
    const first = log.fetch(0, 5);
    expect(dropAbortedRecords(first.response)).toBe(500);
    expect(delivered(first.response)).toEqual([]);
    const second = log.fetch(5, log.entries.length);
    expect(dropAbortedRecords(second.response)).toBe(500);
    expect(delivered(second.response)).toEqual(["1001"]);
  });

  it("keeps the batches, emptied, so the stream still advances its offsets past them", () => {
    const log = new Log();
    log.data(1n, 4);
    log.end(1n, true);
    const { response } = log.fetch(0, 2);
    dropAbortedRecords(response);
    const batches = (response as { responses: { partitions: { records: RecordsBatch[] }[] }[] }).responses[0]
      ?.partitions[0]?.records as RecordsBatch[];
    expect(batches.map((b) => [b.firstOffset, b.lastOffsetDelta, b.records.length])).toEqual([
      [0n, 3, 0],
      [4n, 0, 1],
    ]);
  });

  it("leaves records outside transactions and other producers' batches alone while one producer aborts", () => {
    const log = new Log();
    log.data(1n);
    log.data(PLAIN);
    log.data(2n);
    log.data(1n);
    log.end(2n, false);
    log.end(1n, true);
    const { response, entries } = log.fetch(0, log.entries.length);
    expect(dropAbortedRecords(response)).toBe(2);
    expect(delivered(response)).toEqual(committedOf(log, entries));
    expect(delivered(response)).toEqual(["1", "2"]);
  });

  it("changes nothing when the broker lists no aborted transaction (read_uncommitted, or none aborted)", () => {
    const log = new Log();
    log.data(1n);
    log.end(1n, false);
    const { response } = log.fetch(0, 2);
    const before = JSON.stringify(response, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(dropAbortedRecords(response)).toBe(0);
    expect(JSON.stringify(response, (_k, v) => (typeof v === "bigint" ? String(v) : v))).toBe(before);
  });

  it("hands over exactly what Kafka's read_committed consumer would, for any log and any fetch window", () => {
    const step = fc.oneof(
      fc.record({ data: fc.constantFrom(1n, 2n, 3n, PLAIN), records: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ end: fc.constantFrom(1n, 2n, 3n), abort: fc.boolean() }),
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.func(fc.boolean()),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (steps, abortOpen, a, b, reverse) => {
          const log = new Log();
          for (const s of steps) {
            if ("data" in s) log.data(s.data, s.records);
            else log.end(s.end, s.abort);
          }
          log.endAll((producer) => abortOpen(String(producer)));
          const n = log.entries.length;
          const from = n === 0 ? 0 : a % n;
          const to = from + (n === 0 ? 0 : b % (n - from + 1));
          const { response, entries } = log.fetch(from, to, (list) => (reverse ? [...list].reverse() : list));
          dropAbortedRecords(response);
          expect(delivered(response)).toEqual(committedOf(log, entries));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("noteTails: what follows a partition's last record", () => {
  const names = new Map([["t", "tx"]]);

  it("notes the markers and aborted batches behind the last record, so the commit can pass them", () => {
    const log = new Log();
    log.data(1n, 3);
    log.end(1n, false);
    log.data(2n, 2);
    log.end(2n, true);
    const { response } = log.fetch(0, log.entries.length);
    dropAbortedRecords(response);
    const tails = new Map<string, PartitionTail>();
    noteTails(response, names, tails);
    // Records 0..2, commit marker 3, aborted 4..5, abort marker 6.
    expect(tails.get("tx:0")).toEqual({ after: 3n, end: 7n });
  });

  it("a later fetch of markers only extends the tail it continues; one with records replaces it", () => {
    const log = new Log();
    log.data(1n, 2);
    log.data(3n, 1);
    log.end(1n, false);
    log.end(3n, false);
    log.data(1n, 1);
    log.end(1n, false);
    const tails = new Map<string, PartitionTail>();
    noteTails(log.fetch(0, 3).response, names, tails);
    expect(tails.get("tx:0")).toEqual({ after: 3n, end: 4n });
    noteTails(log.fetch(3, 4).response, names, tails);
    expect(tails.get("tx:0")).toEqual({ after: 3n, end: 5n });
    noteTails(log.fetch(4, 6).response, names, tails);
    expect(tails.get("tx:0")).toEqual({ after: 6n, end: 7n });
    // A topic whose id is not known is left alone.
    const other = new Map<string, PartitionTail>();
    noteTails(log.fetch(0, 3).response, new Map(), other);
    expect(other.size).toBe(0);
  });
});
