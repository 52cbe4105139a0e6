// Deterministic helpers for component tests in jsdom, after owl's own
// tests/helpers.ts: a fixture, mount with a fake env, nextTick, deferred.
import { type Component, type ComponentConstructor, EventBus, markRaw, mount as owlMount, reactive } from "@odoo/owl";
import { FakeBus, FakeNotifications, type FakeOrm, fakeServices } from "./fake_services.ts";

export function makeFixture(): HTMLElement {
  const fixture = document.createElement("div");
  document.body.appendChild(fixture);
  return fixture;
}

export function nextTick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Lets pending promises and OWL's render scheduling (requestAnimationFrame) settle. */
export async function settle(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await nextTick();
    await new Promise((resolve) => requestAnimationFrame(() => resolve(undefined)));
  }
}

export interface Deferred<T> extends Promise<T> {
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function makeDeferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (r: unknown) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  }) as Deferred<T>;
  p.resolve = resolve;
  p.reject = reject;
  return p;
}

export interface TestEnv {
  services: ReturnType<typeof fakeServices>;
}

export async function mountComponent<P extends object>(
  C: ComponentConstructor<P, TestEnv>,
  orm: FakeOrm,
  props: P,
  opts: { isManager?: boolean; env?: Record<string, unknown> } = {},
): Promise<{
  component: Component<P, TestEnv>;
  fixture: HTMLElement;
  env: TestEnv;
  bus: FakeBus;
  notifications: FakeNotifications;
}> {
  const fixture = makeFixture();
  const services = fakeServices(orm);
  const env: TestEnv = { ...opts.env, services };
  (globalThis as { __sfbIsManager?: boolean }).__sfbIsManager = opts.isManager ?? true;
  const component = await owlMount(C, fixture, { env, props, test: true, warnIfNoStaticProps: true });
  await settle();
  return { component, fixture, env, bus: services.bus_service, notifications: services.notification };
}

/** The props Odoo's action service gives a client action (`standardActionServiceProps`). */
export function actionProps(context: Record<string, unknown> = {}) {
  return { action: { tag: "test", type: "ir.actions.client", context }, actionId: 1, className: "o_action" };
}

export { FakeBus, FakeNotifications };

/**
 * A form view's record as a field widget sees it (reactive data, update,
 * save, the model's bus), over an in-memory row. The browser tier runs the
 * widget on Odoo's real record.
 */
export function fakeRecord(data: Record<string, unknown>, resId: number | false = false) {
  const bus = markRaw(new EventBus());
  const record = reactive({
    data: { ...data },
    resId: resId as number | false,
    dirty: false,
    saves: 0,
    /** What save() answers; false stands for a form with invalid fields. */
    saveSucceeds: true,
    get isNew(): boolean {
      return !this.resId;
    },
    async update(changes: Record<string, unknown>): Promise<void> {
      Object.assign(this.data, changes);
      this.dirty = true;
    },
    async save(): Promise<boolean> {
      if (!this.saveSucceeds) return false;
      this.saves++;
      if (!this.resId) this.resId = 41;
      this.dirty = false;
      return true;
    },
    async isDirty(): Promise<boolean> {
      return this.dirty;
    },
    model: markRaw({ bus }),
  });
  return record;
}

/** Asks the fields for their pending edits, as Odoo's model does before a save. */
export async function askChanges(record: ReturnType<typeof fakeRecord>): Promise<void> {
  const proms: Promise<unknown>[] = [];
  record.model.bus.trigger("NEED_LOCAL_CHANGES", { proms });
  await Promise.all(proms);
}
