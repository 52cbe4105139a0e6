// Records of aborted transactions, dropped from a fetch response the way
// Kafka's own Java consumer drops them under isolation.level=read_committed.
//
// A read_committed fetch returns the partition's batches up to the last
// stable offset, aborted ones included, with the list of the transactions
// aborted in that range: (producer id, first offset). The client must skip
// them. Kafka's consumer walks the batches in offset order: a producer is
// "aborting" from the first offset of one of its aborted transactions until
// its abort marker (a control batch), and its transactional batches in
// between are skipped. @platformatic/kafka 2.12 keeps one aborted range per
// producer and only when the marker is in the same response: a producer that
// aborted twice in one fetch (Kafka Streams, Connect or Flink retrying a
// transaction) or an aborted transaction longer than the fetch let aborted
// records through, and the sidecar spooled events that never happened.
//
// The batches are kept, emptied: the stream advances its offsets from the
// last batch of a response, so a dropped batch must still be there.
import {
  type CallbackWithPromise,
  Consumer,
  type ConsumerOptions,
  type FetchOptions,
  type fetchV17,
  type RecordsBatch,
} from "@platformatic/kafka";

/** What `Consumer.fetch` resolves to (the client parses every Fetch version into this shape). */
type FetchResponse = fetchV17.FetchResponse;

/** Attribute bits of a record batch (Kafka's DefaultRecordBatch). */
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;
/** Control record key: version (int16), then type (int16): 0 abort, 1 commit. */
const ABORT = 0;

function isAbortMarker(batch: RecordsBatch): boolean {
  if ((batch.attributes & IS_CONTROL) === 0) return false;
  const key = batch.records[0]?.key;
  return key !== undefined && key !== null && key.length >= 4 && key.readInt16BE(2) === ABORT;
}

/**
 * Empties, in place, every batch of `response` that belongs to an aborted
 * transaction; returns how many records were dropped. Batches outside
 * transactions, committed ones and control batches are left as they are.
 */
export function dropAbortedRecords(response: FetchResponse): number {
  let dropped = 0;
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      const batches = partition.records;
      const aborted = partition.abortedTransactions;
      if (!batches || !aborted || aborted.length === 0) continue;
      const queue = [...aborted].sort((a, b) =>
        a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
      );
      let next = 0;
      const aborting = new Set<bigint>();
      for (const batch of batches) {
        if ((batch.attributes & IS_TRANSACTIONAL) === 0) continue;
        const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
        while (next < queue.length && (queue[next] as { firstOffset: bigint }).firstOffset <= lastOffset) {
          aborting.add((queue[next] as { producerId: bigint }).producerId);
          next++;
        }
        if ((batch.attributes & IS_CONTROL) !== 0) {
          if (isAbortMarker(batch)) aborting.delete(batch.producerId);
          continue;
        }
        if (aborting.has(batch.producerId) && batch.records.length > 0) {
          dropped += batch.records.length;
          batch.records = [];
        }
      }
    }
  }
  return dropped;
}

type Options = ConsumerOptions<Buffer, Buffer, Buffer, Buffer>;

/**
 * Where a partition's fetched log ends past its last record: control batches
 * (commit and abort markers) and aborted batches after it, which nobody
 * consumes. `after` is the offset after the last record, `end` the offset
 * after the last batch fetched. Kafka's own consumer commits its position,
 * past them; committing only up to the last record would leave the group one
 * marker behind the end for ever (a lag of 1 where nothing is left to read).
 */
export interface PartitionTail {
  after: bigint;
  end: bigint;
}

/**
 * Notes, per partition of `response` (`topic:partition` by `names`, topic id
 * to name), the tail of batches without records behind its last record:
 * replaced when the response has records for the partition, extended when it
 * only has more empty batches right after the tail noted before.
 */
export function noteTails(
  response: FetchResponse,
  names: ReadonlyMap<string, string>,
  tails: Map<string, PartitionTail>,
): void {
  for (const topic of response.responses) {
    const name = names.get(topic.topicId);
    if (name === undefined) continue;
    for (const partition of topic.partitions) {
      const batches = partition.records;
      if (!batches || batches.length === 0) continue;
      const key = `${name}:${partition.partitionIndex}`;
      const last = batches[batches.length - 1] as RecordsBatch;
      const end = last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
      let after: bigint | undefined;
      for (const batch of batches) {
        if ((batch.attributes & IS_CONTROL) === 0 && batch.records.length > 0) {
          after = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
      if (after !== undefined) {
        tails.set(key, { after, end });
        continue;
      }
      const noted = tails.get(key);
      const first = batches[0] as RecordsBatch;
      if (noted && first.firstOffset <= noted.end && end > noted.end) noted.end = end;
    }
  }
}

/**
 * The client's consumer with every fetch filtered by `dropAbortedRecords`
 * before its messages stream sees it (the stream fetches through this
 * method). `onDropped` hears how many records each fetch dropped.
 */
export class ReadCommittedConsumer extends Consumer<Buffer, Buffer, Buffer, Buffer> {
  readonly #onDropped: (count: number) => void;
  /** Topic id → name, for `tails` (the fetch response names topics by id). */
  readonly topicNames = new Map<string, string>();
  /** Per `topic:partition`, the batches without records fetched behind its last record. */
  readonly tails = new Map<string, PartitionTail>();

  constructor(options: Options, onDropped: (count: number) => void) {
    super(options);
    this.#onDropped = onDropped;
  }

  #filter(response: FetchResponse): void {
    const dropped = dropAbortedRecords(response);
    if (dropped > 0) this.#onDropped(dropped);
    noteTails(response, this.topicNames, this.tails);
  }

  /**
   * The offset to commit for a partition whose records up to `next` are
   * committed to the spool: past the markers and aborted batches that follow
   * them when nothing else was fetched after them.
   */
  commitOffset(key: string, next: bigint): bigint {
    const tail = this.tails.get(key);
    return tail && tail.after === next && tail.end > next ? tail.end : next;
  }

  override fetch(
    options: FetchOptions<Buffer, Buffer, Buffer, Buffer>,
    callback: CallbackWithPromise<FetchResponse>,
  ): void;
  override fetch(options: FetchOptions<Buffer, Buffer, Buffer, Buffer>): Promise<FetchResponse>;
  override fetch(
    options: FetchOptions<Buffer, Buffer, Buffer, Buffer>,
    callback?: CallbackWithPromise<FetchResponse>,
  ): undefined | Promise<FetchResponse> {
    if (!callback) {
      return super.fetch(options).then((response) => {
        this.#filter(response);
        return response;
      });
    }
    const filtered = ((error: Error | null, response?: FetchResponse) => {
      if (!error && response) this.#filter(response);
      callback(error, response);
    }) as CallbackWithPromise<FetchResponse>;
    super.fetch(options, filtered);
    return undefined;
  }
}
