// Replaces src/shared/web.ts in jsdom tests: `vi.mock("../shared/web.ts", () => import("../../test/support/fake_web.ts"))`.
// Each stand-in behaves like the Odoo 18 function it replaces for the inputs
// the screens give it: `_t` substitutes like Odoo's sprintf, the number
// formatters read the user's separators from `localization`, the dates
// follow its language and time zone (in Odoo: the browser's zone).
import { useEffect, useEnv } from "@odoo/owl";

export const EVENTS_CHANGED = "shopfloor_bridge/events_changed";
export const MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager";

/** What Odoo's localization service reads from res.lang, and the zone luxon shows datetimes in. */
export interface FakeLocalization {
  decimalPoint: string;
  thousandsSep: string;
  /** Odoo's grouping: sizes from the right; 0 repeats the previous one. */
  grouping: number[];
  /** BCP 47 language tag and IANA zone for dates. */
  locale: string;
  tz: string;
}

export const EN_US: FakeLocalization = {
  decimalPoint: ".",
  thousandsSep: ",",
  grouping: [3, 0],
  locale: "en-US",
  tz: "UTC",
};
export const DE_DE: FakeLocalization = {
  decimalPoint: ",",
  thousandsSep: ".",
  grouping: [3, 0],
  locale: "de-DE",
  tz: "Europe/Berlin",
};
export const localization: FakeLocalization = { ...EN_US };

export function setLocalization(l10n: FakeLocalization): void {
  Object.assign(localization, l10n);
}

export function _t(text: string, ...values: unknown[]): string {
  const [first] = values;
  if (values.length === 1 && Object.prototype.toString.call(first) === "[object Object]") {
    const named = first as Record<string, unknown>;
    return text.replace(/%\(([^)]+)\)s/g, (_m, name: string) => String(named[name]));
  }
  let i = 0;
  return values.length ? text.replace(/%s/g, () => String(values[i++])) : text;
}

function group(digits: string): string {
  const sign = digits.startsWith("-") ? "-" : "";
  let rest = sign ? digits.slice(1) : digits;
  const parts: string[] = [];
  let size = 3;
  for (let i = 0; rest.length > 0; i++) {
    const g = localization.grouping[i];
    if (g !== undefined && g > 0) size = g;
    if (g === -1) break;
    parts.unshift(rest.slice(-size));
    rest = rest.slice(0, -size);
  }
  if (rest) parts.unshift(rest);
  return sign + parts.join(localization.thousandsSep);
}

interface NumberOptions {
  digits?: [number | false, number];
  trailingZeros?: boolean;
}

export function formatFloat(value: number | false, options: NumberOptions = {}): string {
  if (value === false) return "";
  const precision = options.digits?.[1] ?? 2;
  const [int = "", dec = ""] = value.toFixed(precision).split(".");
  const decimals = options.trailingZeros === false ? dec.replace(/0+$/, "") : dec;
  return decimals ? `${group(int)}${localization.decimalPoint}${decimals}` : group(int);
}

export function formatInteger(value: number | false | null): string {
  if (value === false || value === null) return "";
  return group(value.toFixed(0));
}

/** Stands in for luxon's DateTime. */
export class FakeDateTime {
  readonly date: Date;
  constructor(date: Date) {
    this.date = date;
  }
  get isValid(): boolean {
    return !Number.isNaN(this.date.getTime());
  }
  toMillis(): number {
    return this.date.getTime();
  }
  toJSDate(): Date {
    return new Date(this.date.getTime());
  }
}

export function deserializeDateTime(value: string): FakeDateTime {
  return new FakeDateTime(new Date(`${value.replace(" ", "T")}Z`));
}

export function formatDateTime(
  value: FakeDateTime | false | null,
  options: { showSeconds?: boolean; tz?: string; format?: string } = {},
): string {
  if (!value) return "";
  if (options.format) {
    // Luxon tokens; the screens only ask for times of day.
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: options.tz ?? localization.tz,
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    }).formatToParts(value.date);
    const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
    const unknown = options.format.replace(/HH|mm|ss/g, "").replace(/[:\s]/g, "");
    if (unknown) throw new Error(`fake formatDateTime: format ${options.format} is not supported`);
    return options.format.replace("HH", part("hour")).replace("mm", part("minute")).replace("ss", part("second"));
  }
  return new Intl.DateTimeFormat(localization.locale, {
    timeZone: options.tz ?? localization.tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: options.showSeconds === false ? undefined : "2-digit",
    hourCycle: "h23",
  })
    .format(value.date)
    .replace(",", "");
}

export const standardActionServiceProps = {
  action: Object,
  actionId: { type: Number, optional: true },
  className: { type: String, optional: true },
  globalState: { type: Object, optional: true },
  state: { type: Object, optional: true },
  resId: { type: [Number, Boolean], optional: true },
  updateActionState: { type: Function, optional: true },
};

export const standardFieldProps = {
  id: { type: String, optional: true },
  name: { type: String },
  readonly: { type: Boolean, optional: true },
  record: { type: Object },
};

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

/** Like Odoo's hook: registered while the component is mounted. */
export function useHotkey(
  hotkey: string,
  callback: (context: { target: EventTarget | null }) => void,
  options: Record<string, unknown> = {},
): void {
  const hotkeys = useService("hotkey") as {
    add(h: string, cb: typeof callback, o: Record<string, unknown>): () => void;
  };
  useEffect(
    () => hotkeys.add(hotkey, callback, options),
    () => [],
  );
}

/** Like Odoo's hook: listens on an OWL EventBus while the component is mounted. */
export function useBus(bus: EventTarget, eventName: string, callback: (ev: CustomEvent) => void): void {
  useEffect(
    () => {
      const listener = (ev: Event) => callback(ev as CustomEvent);
      bus.addEventListener(eventName, listener);
      return () => bus.removeEventListener(eventName, listener);
    },
    () => [],
  );
}
