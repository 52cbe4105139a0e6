// Queue order of a workcenter on the dispatch board, and what a drop means
// in Odoo terms. The floor queue (models/shopfloor_dispatch.py) is: running
// work first, then MO priority (starred first), then planned start; a drop
// therefore writes priority and planned start, and never passes running work.

export interface QueueCard {
  id: number;
  /** mrp.production priority: "1" starred (urgent), "0" normal. */
  priority: string;
  /** UTC "YYYY-MM-DD HH:MM:SS" or false. */
  dateStart: string | false;
  /** In progress on the floor: stays at the head, cannot be moved. */
  running?: boolean;
}

export function compareCards(a: QueueCard, b: QueueCard): number {
  if (Boolean(a.running) !== Boolean(b.running)) return a.running ? -1 : 1;
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
  const da = a.dateStart || "9999";
  const db = b.dateStart || "9999";
  if (da !== db) return da < db ? -1 : 1;
  return a.id - b.id;
}

export interface DropPlan {
  id: number;
  priority: string;
  dateStart: string | false;
  /** The column as it reads after the drop. */
  order: number[];
}

const MINUTE = 60_000;

function toMs(v: string | false): number | null {
  if (!v) return null;
  const t = Date.parse(`${v.replace(" ", "T")}Z`);
  return Number.isNaN(t) ? null : t;
}

function fromMs(ms: number): string {
  return new Date(Math.round(ms / 1000) * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * Moves `draggedId` to `targetIndex` (index in the column after removal of
 * the dragged card) and returns the priority and planned start that put it
 * there when Odoo sorts the queue, or undefined when nothing moves.
 */
export function planDrop(column: readonly QueueCard[], draggedId: number, targetIndex: number): DropPlan | undefined {
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

  const sameAbove = above && above.priority === priority ? toMs(above.dateStart) : null;
  const sameBelow = below && below.priority === priority ? toMs(below.dateStart) : null;
  let start: number | null;
  if (sameAbove !== null && sameBelow !== null) start = sameAbove + Math.max(1000, (sameBelow - sameAbove) / 2);
  else if (sameAbove !== null) start = sameAbove + MINUTE;
  else if (sameBelow !== null) start = sameBelow - MINUTE;
  else start = toMs(dragged.dateStart);
  // Never write a start that collides with the card below (ties sort by id).
  if (sameBelow !== null && start !== null && start >= sameBelow) start = sameBelow - 1000;
  const order = rest.map((c) => c.id);
  // "above" ignored running cards for the priority; the order keeps them first.
  order.splice(at, 0, draggedId);
  return { id: draggedId, priority, dateStart: start === null ? false : fromMs(start), order };
}
