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
  async doAction(action: unknown): Promise<void> {
    this.actions.push(action);
  }
}

export function fakeServices(orm: FakeOrm) {
  return {
    orm,
    action: new FakeActions(),
    notification: new FakeNotifications(),
    bus_service: new FakeBus(),
  };
}
