// Work centers whose events write the same rows in Odoo go in one partition.
//
// Parallel delivery (delivery.ts) keeps each work center's events in one batch
// in flight at a time. Two work centers working on one manufacturing order
// (the press cuts it, the assembly bench assembles it) would still be two
// partitions, both writing that order's rows (its producing quantity, the
// figures of its work orders); two lines consuming one material both book
// its stock quant. Odoo runs each call in one REPEATABLE READ transaction:
// the second one to write such a row waits for the first and then fails
// with a serialization error, and Odoo runs the whole call again (then the
// sidecar retries it). Measured on the scale bench, those retries cost more
// than the parallel partitions gained, and a partition that kept losing
// starved.
//
// OrderAffinity learns from the events delivery reads which work centers
// shared an order (`data.order`) or a material (`data.material`) lately, and
// groups them, transitively: delivery hands a group whole to one slot, and
// while a batch of a group is in flight the group's other work centers wait
// for it. What is not seen for `ttlMs` is forgotten, so a work center that
// moved on to another line's orders leaves the group. Only a hint for
// throughput: the order of each work center's events holds with or without it
// (each work center is in one group).

/** What of a spooled event the affinity reads. */
export interface AffinityEntry {
  workcenter: string;
  item: unknown;
}

export interface AffinityOptions {
  /** How long an order or material keeps its work centers together after its last event (ms). Default 15 minutes. */
  ttlMs?: number;
  /** Orders and materials remembered at most (the least recently seen are forgotten first). Default 5,000. */
  maxKeys?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 15 * 60_000;
const DEFAULT_MAX_KEYS = 5_000;

/** What of Odoo's rows a CloudEvent writes that other work centers' events may write too. */
function sharedKeysOf(item: unknown): string[] {
  if (typeof item !== "object" || item === null) return [];
  const data = (item as { data?: unknown }).data;
  if (typeof data !== "object" || data === null) return [];
  const keys: string[] = [];
  const { order, material } = data as { order?: unknown; material?: unknown };
  if (typeof order === "string" && order !== "") keys.push(`order:${order}`);
  if (typeof material === "string" && material !== "") keys.push(`material:${material}`);
  return keys;
}

export class RowAffinity {
  readonly #ttlMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** order or material key → the work centers it was seen on and when last; least recently seen first. */
  readonly #keys = new Map<string, { workcenters: Set<string>; seen: number }>();
  /** work center → its group's members (sorted), for work centers in a group of two or more. */
  #groups: Map<string, readonly string[]> | undefined;

  constructor(opts: AffinityOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxKeys = Math.max(1, opts.maxKeys ?? DEFAULT_MAX_KEYS);
    this.#now = opts.now ?? Date.now;
  }

  /** Notes the order and material of each entry (events with neither teach nothing). */
  learn(entries: readonly AffinityEntry[]): void {
    const now = this.#now();
    for (const e of entries) {
      for (const key of sharedKeysOf(e.item)) this.#note(key, e.workcenter, now);
    }
    this.#expire(now);
  }

  #note(key: string, workcenter: string, now: number): void {
    const known = this.#keys.get(key);
    if (!known) {
      this.#keys.set(key, { workcenters: new Set([workcenter]), seen: now });
      if (this.#keys.size > this.#maxKeys) this.#forget(this.#keys.keys().next().value as string);
      return;
    }
    this.#keys.delete(key); // to the end: most recently seen
    this.#keys.set(key, known);
    known.seen = now;
    if (!known.workcenters.has(workcenter)) {
      known.workcenters.add(workcenter);
      this.#groups = undefined;
    }
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

  #expire(now: number): void {
    for (const [key, known] of this.#keys) {
      if (now - known.seen < this.#ttlMs) break; // the rest were seen later
      this.#forget(key);
    }
  }

  #forget(key: string): void {
    const known = this.#keys.get(key);
    this.#keys.delete(key);
    if (known && known.workcenters.size > 1) this.#groups = undefined;
  }

  /** Connected work centers over the remembered orders and materials (union-find), built when something changed. */
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
    for (const { workcenters } of this.#keys.values()) {
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
