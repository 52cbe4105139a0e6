// Work centers that share an order go to Odoo in one partition.
//
// Parallel delivery (delivery.ts) keeps each work center's events in one batch
// in flight at a time. Two work centers working on one manufacturing order
// (the press cuts it, the assembly bench assembles it) would still be two
// partitions: both batches then write that order's rows in Odoo (its
// producing quantity, the figures of its work orders), and the second one
// waits on each row for the first one's transaction to end. The two
// partitions apply one after the other and pay for the waiting besides.
//
// OrderAffinity learns from the events delivery reads (`data.order`) which
// work centers worked on one order lately, and groups them: delivery hands a
// group whole to one slot, and while a batch of a group is in flight the
// group's other work centers wait for it. Orders not seen for `ttlMs` are
// forgotten, so a work center that moved on to another line's orders leaves
// the group. Only a hint for throughput: the order of each work center's
// events holds with or without it (each work center is in one group).

/** What of a spooled event the affinity reads. */
export interface AffinityEntry {
  workcenter: string;
  item: unknown;
}

export interface AffinityOptions {
  /** How long an order keeps its work centers together after its last event (ms). Default 15 minutes. */
  ttlMs?: number;
  /** Orders remembered at most (the least recently seen are forgotten first). Default 5,000. */
  maxOrders?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 15 * 60_000;
const DEFAULT_MAX_ORDERS = 5_000;

/** `data.order` of a CloudEvent, when it is a non-empty string. */
function orderOf(item: unknown): string | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const data = (item as { data?: unknown }).data;
  if (typeof data !== "object" || data === null) return undefined;
  const order = (data as { order?: unknown }).order;
  return typeof order === "string" && order !== "" ? order : undefined;
}

export class OrderAffinity {
  readonly #ttlMs: number;
  readonly #maxOrders: number;
  readonly #now: () => number;
  /** order → the work centers it was seen on and when last; in least recently seen order. */
  readonly #orders = new Map<string, { workcenters: Set<string>; seen: number }>();
  /** work center → its group's members (sorted), for work centers in a group of two or more. */
  #groups: Map<string, readonly string[]> | undefined;

  constructor(opts: AffinityOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxOrders = Math.max(1, opts.maxOrders ?? DEFAULT_MAX_ORDERS);
    this.#now = opts.now ?? Date.now;
  }

  /** Notes the order of each entry (events without one teach nothing). */
  learn(entries: readonly AffinityEntry[]): void {
    const now = this.#now();
    for (const e of entries) {
      const order = orderOf(e.item);
      if (order === undefined) continue;
      const known = this.#orders.get(order);
      if (known) {
        this.#orders.delete(order); // to the end: most recently seen
        this.#orders.set(order, known);
        known.seen = now;
        if (!known.workcenters.has(e.workcenter)) {
          known.workcenters.add(e.workcenter);
          if (this.#groups && !this.#sameGroup(known.workcenters, e.workcenter)) this.#groups = undefined;
        }
        continue;
      }
      this.#orders.set(order, { workcenters: new Set([e.workcenter]), seen: now });
      if (this.#orders.size > this.#maxOrders) this.#forget(this.#orders.keys().next().value as string);
    }
    this.#expire(now);
  }

  /** The group's key: its first member in sort order (the work center itself when alone). */
  groupOf(workcenter: string): string {
    return this.#members().get(workcenter)?.[0] ?? workcenter;
  }

  /** The work centers of `workcenter`'s group, itself included. */
  membersOf(workcenter: string): readonly string[] {
    return this.#members().get(workcenter) ?? [workcenter];
  }

  /** How many groups of two or more work centers there are now. */
  get groups(): number {
    return new Set(this.#members().values()).size;
  }

  /** True when `added` is already grouped with every other work center of the order. */
  #sameGroup(workcenters: ReadonlySet<string>, added: string): boolean {
    const group = this.#groups?.get(added);
    return group !== undefined && [...workcenters].every((wc) => group.includes(wc));
  }

  #expire(now: number): void {
    for (const [order, known] of this.#orders) {
      if (now - known.seen < this.#ttlMs) break; // the rest were seen later
      this.#forget(order);
    }
  }

  #forget(order: string): void {
    const known = this.#orders.get(order);
    this.#orders.delete(order);
    if (known && known.workcenters.size > 1) this.#groups = undefined;
  }

  /** Connected work centers over the remembered orders (union-find), built when something changed. */
  #members(): Map<string, readonly string[]> {
    if (this.#groups) return this.#groups;
    this.#expire(this.#now());
    const parent = new Map<string, string>();
    const find = (wc: string): string => {
      let root = wc;
      for (let up = parent.get(root); up !== undefined && up !== root; up = parent.get(root)) root = up;
      for (let at = wc; at !== root; ) {
        const next = parent.get(at) as string;
        parent.set(at, root);
        at = next;
      }
      return root;
    };
    for (const { workcenters } of this.#orders.values()) {
      if (workcenters.size < 2) continue;
      let first: string | undefined;
      for (const wc of workcenters) {
        if (!parent.has(wc)) parent.set(wc, wc);
        if (first === undefined) first = find(wc);
        else {
          const root = find(wc);
          if (root !== first) parent.set(root, first);
        }
      }
    }
    const byRoot = new Map<string, string[]>();
    for (const wc of parent.keys()) {
      const root = find(wc);
      const members = byRoot.get(root);
      if (members) members.push(wc);
      else byRoot.set(root, [wc]);
    }
    const groups = new Map<string, readonly string[]>();
    for (const members of byRoot.values()) {
      members.sort();
      for (const wc of members) groups.set(wc, members);
    }
    this.#groups = groups;
    return groups;
  }
}
