// Replaces src/shared/web.ts in jsdom tests: `vi.mock("../shared/web.ts", () => import("../testing/fake_web.ts"))`.
import { useEnv } from "@odoo/owl";

export const EVENTS_CHANGED = "shopfloor_bridge/events_changed";
export const MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager";

export function _t(text: string, ...values: unknown[]): string {
  let i = 0;
  return text.replace(/%s/g, () => String(values[i++]));
}

export const registered = new Map<string, unknown>();
export const registry = {
  category(name: string) {
    return {
      add(key: string, value: unknown) {
        registered.set(`${name}:${key}`, value);
        return this;
      },
    };
  },
};

export const user = {
  userId: 2,
  name: "Test",
  isAdmin: false,
  context: {},
  async hasGroup(group: string): Promise<boolean> {
    return group === MANAGER_GROUP && (globalThis as { __sfbIsManager?: boolean }).__sfbIsManager === true;
  },
};

export function useService(name: string): unknown {
  const env = useEnv() as { services: Record<string, unknown> };
  return env.services[name];
}
