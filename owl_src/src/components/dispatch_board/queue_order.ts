// Queue order of a workcenter on the dispatch board, and what a drop means
// in Odoo terms. The floor queue (models/shopfloor_dispatch.py) is: running
// work first, then MO priority (starred first), then planned start; a drop
// therefore writes priority and planned start, and never passes running work.

export interface QueueCard {
  id: number;
  /** mrp.production priority: "1" starred (urgent), "0" normal. */
  priority: string;
  /** UTC "YYYY-MM-DD HH:MM:SS" or false: the WO's planned start, else its MO's. */
  dateStart: string | false;
  /** In progress on the floor: stays at the head, cannot be moved. */
  running?: boolean;
  /** Ties on the start: the WO's sequence, then its MO's id, then its own. */
  sequence?: number;
  productionId?: number;
}

/** Among cards with the same start: the floor queue's tie-break. */
function compareTies(a: QueueCard, b: QueueCard): number {
  return (a.sequence ?? 0) - (b.sequence ?? 0) || (a.productionId ?? 0) - (b.productionId ?? 0) || a.id - b.id;
}

export function compareCards(a: QueueCard, b: QueueCard): number {
  if (Boolean(a.running) !== Boolean(b.running)) return a.running ? -1 : 1;
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
  const da = a.dateStart || "9999";
  const db = b.dateStart || "9999";
  if (da !== db) return da < db ? -1 : 1;
  return compareTies(a, b);
}

export interface DropPlan {
  id: number;
  priority: string;
  dateStart: string | false;
  /** The column as it reads after the drop. */
  order: number[];
  /**
   * Other cards of the moved card's class whose planned start must change
   * too: where two neighbours share a start there is no room between them,
   * and a card without a start cannot sort above one that has a start.
   */
  shifts: { id: number; dateStart: string }[];
}

const SECOND = 1000;
const MINUTE = 60_000;

function toMs(v: string | false): number | null {
  if (!v) return null;
  const t = Date.parse(`${v.replace(" ", "T")}Z`);
  return Number.isNaN(t) ? null : t;
}

function fromMs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** Odoo stores whole seconds: every start planned here is one. */
function wholeSeconds(ms: number): number {
  return Math.floor(ms / SECOND) * SECOND;
}

/**
 * Moves `draggedId` to `targetIndex` (index in the column after removal of
 * the dragged card) and returns the priority and planned starts that put it
 * there when Odoo sorts the queue, or undefined when nothing moves. `now`
 * only plans a start when nothing around the drop has one.
 */
export function planDrop(
  column: readonly QueueCard[],
  draggedId: number,
  targetIndex: number,
  now: number = Date.now(),
): DropPlan | undefined {
  const from = column.findIndex((c) => c.id === draggedId);
  if (from < 0) return undefined;
  const dragged = column[from] as QueueCard;
  if (dragged.running) return undefined;
  const rest = column.filter((c) => c.id !== draggedId);
  const runningCount = rest.filter((c) => c.running).length;
  const at = Math.max(runningCount, Math.min(targetIndex, rest.length));
  if (at === from) return undefined;
  const above = at > runningCount ? rest[at - 1] : undefined;
  const below = rest[at];
  // At the top means "do this next": starred. Otherwise join the class of
  // the card above, unless the card keeps its own and still sorts right.
  let priority: string;
  if (!above) priority = "1";
  else if (!below || above.priority === below.priority) priority = above.priority;
  else
    priority =
      dragged.priority === above.priority || dragged.priority === below.priority ? dragged.priority : above.priority;

  const moved: QueueCard = { ...dragged, priority };
  const next = [...rest];
  next.splice(at, 0, moved);
  // The moved card's class as it reads after the drop: only its starts matter.
  const seg = next.filter((c) => !c.running && c.priority === priority);
  const p = seg.indexOf(moved);
  const starts = planStarts(seg, p, now);
  const shifts: DropPlan["shifts"] = [];
  seg.forEach((c, i) => {
    const start = starts[i] ?? null;
    if (i !== p && start !== null && start !== toMs(c.dateStart)) shifts.push({ id: c.id, dateStart: fromMs(start) });
  });
  const own = starts[p] ?? null;
  return {
    id: draggedId,
    priority,
    dateStart: own === null ? false : fromMs(own),
    order: next.map((c) => c.id),
    shifts,
  };
}

/**
 * Planned starts (ms, null for none) that sort `seg` in its order, `seg[p]`
 * being the moved card: the moved card goes between its neighbours, and
 * cards only change where the order needs it. Without a start a card sorts
 * after every card with one, by the tie-break among its kind.
 */
function planStarts(seg: readonly QueueCard[], p: number, now: number): (number | null)[] {
  const starts = seg.map((c) => toMs(c.dateStart));
  const changed = seg.map((_, i) => i === p);
  const aboveStart = p > 0 ? (starts[p - 1] ?? null) : null;
  const belowStart = starts[p + 1] ?? null;
  if (aboveStart !== null && belowStart !== null)
    starts[p] = wholeSeconds(aboveStart + Math.max(SECOND, (belowStart - aboveStart) / 2));
  else if (aboveStart !== null) starts[p] = aboveStart + MINUTE;
  else if (belowStart !== null) starts[p] = belowStart - MINUTE;
  else if (p > 0) starts[p] = null; // under a card without a start: planned below

  // Every card up to the last one with a start needs a start; the cards
  // without one after it sort by the tie-break, so the moved card needs one
  // when it lands out of their order, and always when it had one (Odoo's
  // move never clears a start).
  let lastDated = -1;
  starts.forEach((s, i) => {
    if (s !== null) lastDated = i;
  });
  if (toMs((seg[p] as QueueCard).dateStart) !== null) lastDated = Math.max(lastDated, p);
  else if (starts[p] === null) {
    const tail = seg.slice(lastDated + 1);
    if (tail.some((c, i) => i > 0 && compareTies(tail[i - 1] as QueueCard, c) > 0)) lastDated = p;
  }

  for (let i = 0; i <= lastDated; i++) {
    const start = starts[i] ?? null;
    const prev = i > 0 ? (starts[i - 1] ?? null) : null;
    if (start !== null && (prev === null || start > prev)) continue;
    if (start !== null && prev !== null && start === prev && !changed[i] && !changed[i - 1]) {
      if (compareTies(seg[i - 1] as QueueCard, seg[i] as QueueCard) < 0) continue; // an untouched tie, in order
    }
    changed[i] = true;
    if (start !== null && prev !== null) {
      starts[i] = prev + SECOND; // pushed back just enough to sort after the card above
      continue;
    }
    // No start: spread it between the card above and the next card with a start.
    let j = i + 1;
    while (j <= lastDated && (starts[j] ?? null) === null) j++;
    const nextStart = j <= lastDated ? (starts[j] ?? null) : null;
    if (prev !== null && nextStart !== null)
      starts[i] = prev + Math.max(SECOND, wholeSeconds((nextStart - prev) / (j - i + 1)));
    else if (prev !== null) starts[i] = prev + MINUTE;
    else if (nextStart !== null) starts[i] = nextStart - (j - i) * MINUTE;
    else starts[i] = wholeSeconds(now);
  }
  return starts;
}
