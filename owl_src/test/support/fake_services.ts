// In-memory stand-ins for Odoo's orm/action/notification/bus services in
// jsdom unit tests. The browser tier runs the same screens against real Odoo.

export type OrmHandler = (model: string, method: string, args: unknown[], kwargs: Record<string, unknown>) => unknown;

export interface OrmCall {
  model: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export class FakeOrm {
  calls: OrmCall[] = [];
  handler: OrmHandler;
  constructor(handler: OrmHandler) {
    this.handler = handler;
  }
  async call<T>(model: string, method: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<T> {
    this.calls.push({ model, method, args, kwargs });
    return (await this.handler(model, method, args, kwargs)) as T;
  }
  searchRead<T>(model: string, domain: unknown[], fields: string[], kwargs: Record<string, unknown> = {}) {
    return this.call<T[]>(model, "search_read", [], { ...kwargs, domain, fields });
  }
  searchCount(model: string, domain: unknown[], kwargs: Record<string, unknown> = {}) {
    return this.call<number>(model, "search_count", [domain], kwargs);
  }
  webSearchRead<T>(model: string, domain: unknown[], kwargs: Record<string, unknown> = {}) {
    return this.call<{ length: number; records: T[] }>(model, "web_search_read", [], { ...kwargs, domain });
  }
  webRead<T>(model: string, ids: number[], kwargs: Record<string, unknown> = {}) {
    return this.call<T[]>(model, "web_read", [ids], kwargs);
  }
  write(model: string, ids: number[], values: Record<string, unknown>) {
    return this.call<boolean>(model, "write", [ids, values]);
  }
  callsTo(method: string): OrmCall[] {
    return this.calls.filter((c) => c.method === method);
  }
}

export class FakeBus {
  subscribers = new Map<string, Set<(payload: unknown) => void>>();
  started = 0;
  subscribe(type: string, cb: (payload: unknown) => void): void {
    if (!this.subscribers.has(type)) this.subscribers.set(type, new Set());
    this.subscribers.get(type)?.add(cb);
  }
  unsubscribe(type: string, cb: (payload: unknown) => void): void {
    this.subscribers.get(type)?.delete(cb);
  }
  addChannel(_name: string): void {}
  deleteChannel(_name: string): void {}
  start(): void {
    this.started++;
  }
  emit(type: string, payload: unknown): void {
    for (const cb of this.subscribers.get(type) ?? []) cb(payload);
  }
}

export class FakeNotifications {
  items: { message: string; type?: string }[] = [];
  add(message: string, options: { type?: string } = {}): () => void {
    this.items.push({ message, type: options.type });
    return () => {};
  }
}

export class FakeActions {
  actions: unknown[] = [];
  /** The options of each doAction (additionalContext, …), in the same order. */
  options: unknown[] = [];
  async doAction(action: unknown, options?: unknown): Promise<void> {
    this.actions.push(action);
    this.options.push(options);
  }
}

interface HotkeyRegistration {
  hotkey: string;
  callback: (context: { target: EventTarget | null }) => void;
  allowRepeat?: boolean;
  bypassEditableProtection?: boolean;
  isAvailable?: () => boolean;
}

/**
 * The rules of Odoo 18's hotkey service that the screens rely on: the key
 * is named like getActiveHotkey names it ("j", "arrowdown", "escape",
 * "control+r"), typing in an input or textarea is protected except for
 * Escape, the newest available registration wins and the event is then
 * prevented. The browser tier runs the real service.
 */
export class FakeHotkeys {
  registrations: HotkeyRegistration[] = [];
  constructor(target: EventTarget = window) {
    target.addEventListener("keydown", (ev) => this.onKeydown(ev as KeyboardEvent));
  }
  add(hotkey: string, callback: HotkeyRegistration["callback"], options: Partial<HotkeyRegistration> = {}) {
    const registration = { ...options, hotkey, callback };
    this.registrations.push(registration);
    return () => {
      this.registrations = this.registrations.filter((r) => r !== registration);
    };
  }
  static nameOf(ev: KeyboardEvent): string {
    const parts: string[] = [];
    if (ev.altKey) parts.push("alt");
    if (ev.ctrlKey) parts.push("control");
    if (ev.shiftKey) parts.push("shift");
    parts.push(ev.key === " " ? "space" : ev.key.toLowerCase());
    return parts.join("+");
  }
  private onKeydown(ev: KeyboardEvent): void {
    const hotkey = FakeHotkeys.nameOf(ev);
    const target = ev.target as HTMLElement | null;
    const editable =
      target instanceof HTMLElement &&
      (/input|textarea/i.test(target.tagName) || target.isContentEditable) &&
      !target.matches("input[type=checkbox], input[type=radio]");
    const protectedTarget = editable && !hotkey.endsWith("escape");
    const winner = [...this.registrations]
      .reverse()
      .find(
        (r) =>
          r.hotkey === hotkey &&
          (r.allowRepeat || !ev.repeat) &&
          (r.bypassEditableProtection || !protectedTarget) &&
          (!r.isAvailable || r.isAvailable()),
      );
    if (!winner) return;
    winner.callback({ target: ev.target });
    ev.preventDefault();
  }
}

export function fakeServices(orm: FakeOrm) {
  return {
    orm,
    action: new FakeActions(),
    notification: new FakeNotifications(),
    bus_service: new FakeBus(),
    hotkey: typeof window === "undefined" ? undefined : new FakeHotkeys(window),
  };
}
