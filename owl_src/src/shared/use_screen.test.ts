// @vitest-environment jsdom
import { afterEach, expect, test, vi } from "vitest";
import "../../test/support/setup_dom.ts";

vi.mock("./web.ts", () => import("../../test/support/fake_web.ts"));

import { App, Component, xml } from "@odoo/owl";
import { FakeOrm, fakeServices } from "../../test/support/fake_services.ts";
import { makeFixture, settle } from "../../test/support/helpers.ts";
import { type Screen, useScreen } from "./use_screen.ts";

const EVENTS_CHANGED = "shopfloor_bridge/events_changed";

/** The smallest live screen: counts its reloads. */
class Probe extends Component {
  static override template = xml`<p class="o_probe" t-esc="reloads.n"/>`;
  static override props = {};
  reloads = { n: 0 };
  declare screen: Screen;
  override setup(): void {
    this.screen = useScreen(async () => {
      this.reloads.n++;
    });
  }
}

afterEach(() => {
  document.body.innerHTML = "";
});

async function mountProbe() {
  const services = fakeServices(new FakeOrm(() => []));
  const app = new App(Probe, { env: { services }, props: {}, test: true });
  const probe = (await app.mount(makeFixture())) as Probe;
  return { app, probe, bus: services.bus_service, services };
}

test("a screen gets Odoo's services, starts the bus and reloads on a ping", async () => {
  const { probe, bus, services } = await mountProbe();
  expect(probe.screen.orm).toBe(services.orm);
  expect(probe.screen.action).toBe(services.action);
  expect(probe.screen.notification).toBe(services.notification);
  expect(bus.started).toBe(1);
  expect(bus.subscribers.get(EVENTS_CHANGED)?.size).toBe(1);
  bus.emit(EVENTS_CHANGED, {});
  await probe.screen.live.settled();
  expect(probe.reloads.n).toBe(1);
});

test("unmounting unsubscribes and stops the live refresh: no reload afterwards", async () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const { app, probe, bus } = await mountProbe();
    bus.emit(EVENTS_CHANGED, {}); // one reload now, a trailing one pending
    await probe.screen.live.settled();
    expect(probe.reloads.n).toBe(1);
    app.destroy();
    expect(bus.subscribers.get(EVENTS_CHANGED)?.size).toBe(0);
    bus.emit(EVENTS_CHANGED, {}); // nobody listens any more
    vi.advanceTimersByTime(5000); // and the trailing reload was cancelled
    await probe.screen.live.settled();
    expect(probe.reloads.n).toBe(1);
  } finally {
    vi.useRealTimers();
  }
});

test("a screen without live data gets the services and leaves the bus alone", async () => {
  class Still extends Component {
    static override template = xml`<p/>`;
    static override props = {};
    override setup(): void {
      useScreen();
    }
  }
  const services = fakeServices(new FakeOrm(() => []));
  const app = new App(Still, { env: { services }, props: {}, test: true });
  await app.mount(makeFixture());
  await settle();
  expect(services.bus_service.started).toBe(0);
  expect(services.bus_service.subscribers.size).toBe(0);
  app.destroy();
});
