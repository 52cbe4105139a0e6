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
//
// It learns before it splits: while a work center has shown fewer than
// `warmupEvents` events (since it started, or came back after `ttlMs` of
// silence), nothing is known of what it shares, and every work center goes in
// one group. Otherwise the first batches of a sidecar that just started, or of
// a line just switched on, would race for the stock they share and wait
// behind the serialization failures Odoo retries with back-off (the scale
// bench's 200 events/s run: its first seconds set the p99).

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
  /** Events of a work center seen before it may leave the one group of what is not known yet. Default 50. */
  warmupEvents?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 15 * 60_000;
const DEFAULT_MAX_KEYS = 5_000;
const DEFAULT_WARMUP_EVENTS = 50;

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
  readonly #warmupEvents: number;
  /** work center → its events seen since it was last new, and when the last one was. */
  readonly #watched = new Map<string, { events: number; seen: number }>();
  /** Work centers that have not shown `warmupEvents` events yet. */
  #cold = 0;
  /** work center → its group's members (sorted), for work centers in a group of two or more. */
  #groups: Map<string, readonly string[]> | undefined;

  constructor(opts: AffinityOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxKeys = Math.max(1, opts.maxKeys ?? DEFAULT_MAX_KEYS);
    this.#warmupEvents = Math.max(0, opts.warmupEvents ?? DEFAULT_WARMUP_EVENTS);
    this.#now = opts.now ?? Date.now;
  }

  /** Notes each entry's work center, and its order and material (events with neither teach no link). */
  learn(entries: readonly AffinityEntry[]): void {
    const now = this.#now();
    for (const e of entries) {
      this.#watch(e.workcenter, now);
      for (const key of sharedKeysOf(e.item)) this.#note(key, e.workcenter, now);
    }
    this.#expire(now);
  }

  /** True while some work center has shown fewer than `warmupEvents` events: all are one group. */
  get warmingUp(): boolean {
    this.#expire(this.#now());
    return this.#cold > 0;
  }

  #watch(workcenter: string, now: number): void {
    const old = this.#watched.get(workcenter);
    const fresh = old === undefined || now - old.seen >= this.#ttlMs; // new, or back after a silence
    const wasCold = old !== undefined && old.events < this.#warmupEvents;
    const events = (fresh ? 0 : old.events) + 1;
    this.#watched.set(workcenter, { events, seen: now });
    const cold = events < this.#warmupEvents;
    if (fresh || cold !== wasCold) {
      this.#cold += Number(cold) - Number(wasCold);
      this.#groups = undefined;
    }
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
    for (const [workcenter, watched] of this.#watched) {
      if (now - watched.seen < this.#ttlMs) continue;
      // Silent for ttlMs: forgotten, so a work center that stopped holds no one back.
      if (watched.events < this.#warmupEvents) this.#cold--;
      this.#watched.delete(workcenter);
      this.#groups = undefined;
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
    const links = [...this.#keys.values()].map(({ workcenters }) => workcenters);
    if (this.#cold > 0) links.push(new Set(this.#watched.keys())); // not known yet: all together
    for (const workcenters of links) {
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
