// How a poll's tags become S7 read requests: neighbours in one area merge
// into one item (one byte range), items pack into multi-variable requests
// that fit the negotiated PDU in both directions. Pure.
import { AREA_CODE, type S7Area, type S7Tag } from "./address.ts";

/** One read item: a byte range of one area, and the tags (by index) it holds. */
export interface ReadItem {
  readonly area: S7Area;
  readonly db: number;
  readonly start: number;
  readonly length: number;
  readonly members: readonly number[];
}

/** A poll's requests: multi-variable reads, and items too large for one PDU (read alone, split by the client). */
export interface ReadPlan {
  readonly requests: readonly (readonly ReadItem[])[];
  readonly large: readonly ReadItem[];
}

/** snap7 (and the S7 protocol as CPUs implement it) takes at most 20 items in one request. */
export const MAX_ITEMS = 20;
/** Bytes between two tags that are cheaper to read than a second item header (12 bytes asked, 4 answered). */
const MERGE_GAP = 16;
const REQUEST_HEADER = 10 + 2; // S7 header + function and item count
const REQUEST_ITEM = 12;
const RESPONSE_HEADER = 12 + 2; // S7 ack-data header (with error class/code) + function and item count
const RESPONSE_ITEM = 4; // return code, transport size, length

/** The largest byte range one item may carry in a response of `pdu` bytes. */
export function maxItemBytes(pdu: number): number {
  return pdu - RESPONSE_HEADER - RESPONSE_ITEM;
}

/**
 * Plans the reads of `tags` for a session with PDU size `pdu`. Tags whose
 * index is in `alone` are never merged with others (they failed before: a
 * merged range would fail with them and cost the others a second round).
 */
export function planReads(tags: readonly S7Tag[], pdu: number, alone: ReadonlySet<number> = new Set()): ReadPlan {
  const limit = maxItemBytes(pdu);
  const order = tags
    .map((_, index) => index)
    .sort((left, right) => compareTags(tags[left] as S7Tag, tags[right] as S7Tag));
  const items: ReadItem[] = [];
  let open: { area: S7Area; db: number; start: number; end: number; members: number[] } | undefined;
  const flush = () => {
    if (open)
      items.push({
        area: open.area,
        db: open.db,
        start: open.start,
        length: open.end - open.start,
        members: open.members,
      });
    open = undefined;
  };
  for (const index of order) {
    const tag = tags[index] as S7Tag;
    const end = tag.byte + tag.size;
    if (
      open &&
      !alone.has(index) &&
      !alone.has(open.members[0] as number) &&
      open.area === tag.area &&
      open.db === tag.db &&
      tag.byte <= open.end + MERGE_GAP &&
      Math.max(open.end, end) - open.start <= limit
    ) {
      open.end = Math.max(open.end, end);
      open.members.push(index);
      continue;
    }
    flush();
    open = { area: tag.area, db: tag.db, start: tag.byte, end, members: [index] };
  }
  flush();

  const requests: ReadItem[][] = [];
  const large: ReadItem[] = [];
  let current: ReadItem[] = [];
  let requestBytes = REQUEST_HEADER;
  let responseBytes = RESPONSE_HEADER;
  for (const item of items) {
    if (item.length > limit) {
      large.push(item);
      continue;
    }
    // Every item but the last is padded to an even length in the response.
    const answer = RESPONSE_ITEM + item.length + (item.length % 2);
    if (
      current.length === MAX_ITEMS ||
      requestBytes + REQUEST_ITEM > pdu ||
      responseBytes + answer - (item.length % 2) > pdu
    ) {
      requests.push(current);
      current = [];
      requestBytes = REQUEST_HEADER;
      responseBytes = RESPONSE_HEADER;
    }
    current.push(item);
    requestBytes += REQUEST_ITEM;
    responseBytes += answer;
  }
  if (current.length > 0) requests.push(current);
  return { requests, large };
}

function compareTags(left: S7Tag, right: S7Tag): number {
  return AREA_CODE[left.area] - AREA_CODE[right.area] || left.db - right.db || left.byte - right.byte;
}
