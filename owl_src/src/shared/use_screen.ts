// The setup every screen shares: Odoo's services, the live refresh and the
// bus subscription to EVENTS_CHANGED (with the bus started: a screen may be
// the first thing in the tab that listens), all undone when it goes away.
import { onMounted, onWillDestroy, onWillUnmount } from "@odoo/owl";
import { LiveRefresh } from "./live.ts";
import { EVENTS_CHANGED, useService } from "./web.ts";

export interface Services {
  orm: OdooOrmService;
  action: OdooActionService;
  notification: OdooNotificationService;
}

export interface Screen extends Services {
  /** Coalesces the bus pings (and any other "read again") into reloads. */
  live: LiveRefresh;
}

/**
 * Call in setup(). With `reload`, the screen is live: `reload` is what a
 * ping runs (the first load is the screen's own, in onWillStart), and the
 * subscription starts once the screen is on the page. Without it, only the
 * services (a screen with nothing that changes under it).
 */
export function useScreen(): Services;
export function useScreen(reload: () => Promise<void>): Screen;
export function useScreen(reload?: () => Promise<void>): Services | Screen {
  const orm = useService("orm");
  const action = useService("action");
  const notification = useService("notification");
  if (!reload) return { orm, action, notification };
  const bus = useService("bus_service");
  const live = new LiveRefresh(reload);
  const onPing = () => live.ping();
  onMounted(() => {
    bus.subscribe(EVENTS_CHANGED, onPing);
    void bus.start();
  });
  onWillUnmount(() => bus.unsubscribe(EVENTS_CHANGED, onPing));
  onWillDestroy(() => live.stop());
  return { orm, action, notification, live };
}
