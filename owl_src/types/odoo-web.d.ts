// Ambient types for the parts of Odoo 18's web client the screens import.
// Odoo does not publish these as a package; the runtime modules come from
// the server's asset bundle (kept external by esbuild), so only the shapes
// used here are declared.

declare module "@web/core/registry" {
  interface Category<T = unknown> {
    add(key: string, value: T, options?: { force?: boolean; sequence?: number }): Category<T>;
    get(key: string, defaultValue?: T): T;
    contains(key: string): boolean;
  }
  export const registry: { category<T = unknown>(name: string): Category<T> };
}

declare module "@web/core/utils/hooks" {
  export function useService<K extends keyof OdooServices>(name: K): OdooServices[K];
  export function useBus(bus: EventTarget, eventName: string, callback: (ev: CustomEvent) => void): void;
}

declare module "@web/core/l10n/translation" {
  /** Positional `%s` values, or one object for `%(name)s` placeholders. */
  export function _t(source: string, ...values: unknown[]): string;
}

declare module "@web/webclient/actions/action_service" {
  /** The props Odoo's action service and ActionContainer give a client action. */
  export const standardActionServiceProps: {
    action: ObjectConstructor;
    actionId: { type: NumberConstructor; optional: true };
    className: { type: StringConstructor; optional: true };
    globalState: { type: ObjectConstructor; optional: true };
    state: { type: ObjectConstructor; optional: true };
    resId: { type: (NumberConstructor | BooleanConstructor)[]; optional: true };
    updateActionState: { type: FunctionConstructor; optional: true };
  };
}

declare module "@web/views/fields/standard_field_props" {
  /** The props Odoo's form view gives every field widget. */
  export const standardFieldProps: {
    id: { type: StringConstructor; optional: true };
    name: { type: StringConstructor };
    readonly: { type: BooleanConstructor; optional: true };
    record: { type: ObjectConstructor };
  };
}

declare module "@web/views/widgets/standard_widget_props" {
  /** The props Odoo's views give every `<widget>`. */
  export const standardWidgetProps: {
    readonly: { type: BooleanConstructor; optional: true };
    record: { type: ObjectConstructor };
  };
}

declare module "@web/core/dialog/dialog" {
  import type { Component } from "@odoo/owl";
  /** Odoo's modal frame: title, size, a body (default slot) and a footer slot. */
  export class Dialog extends Component {}
}

declare module "@web/core/hotkeys/hotkey_hook" {
  export function useHotkey(hotkey: string, callback: (context: HotkeyContext) => void, options?: HotkeyOptions): void;
}

declare module "@web/views/fields/formatters" {
  export interface NumberFormatOptions {
    /** [total, decimals]; Odoo reads only the decimals. */
    digits?: [number | false, number];
    trailingZeros?: boolean;
    humanReadable?: boolean;
  }
  export function formatFloat(value: number | false, options?: NumberFormatOptions): string;
  export function formatInteger(value: number | false | null, options?: NumberFormatOptions): string;
}

declare module "@web/core/l10n/dates" {
  /** Odoo's datetimes are luxon DateTime objects; only what the screens use. */
  export interface OdooDateTime {
    readonly isValid: boolean;
    toMillis(): number;
    toJSDate(): Date;
  }
  /** "YYYY-MM-DD HH:MM:SS" in UTC, as the server sends it, set to the web client's zone. */
  export function deserializeDateTime(value: string, options?: { tz?: string }): OdooDateTime;
  /** In the user's language's format, in the web client's zone. */
  export function formatDateTime(
    value: OdooDateTime | false | null,
    options?: { format?: string; showSeconds?: boolean; tz?: string; condensed?: boolean },
  ): string;
}

interface HotkeyContext {
  area?: HTMLElement;
  target: EventTarget | null;
}

interface HotkeyOptions {
  allowRepeat?: boolean;
  bypassEditableProtection?: boolean;
  global?: boolean;
  area?: () => HTMLElement | null;
  isAvailable?: () => boolean;
}

interface OdooOrmService {
  call<T = unknown>(model: string, method: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<T>;
  searchRead<T = Record<string, unknown>>(
    model: string,
    domain: unknown[],
    fields: string[],
    kwargs?: Record<string, unknown>,
  ): Promise<T[]>;
  searchCount(model: string, domain: unknown[], kwargs?: Record<string, unknown>): Promise<number>;
  webSearchRead<T = Record<string, unknown>>(
    model: string,
    domain: unknown[],
    kwargs: Record<string, unknown>,
  ): Promise<{ length: number; records: T[] }>;
  write(model: string, ids: number[], values: Record<string, unknown>): Promise<boolean>;
  webRead<T = Record<string, unknown>>(model: string, ids: number[], kwargs: Record<string, unknown>): Promise<T[]>;
}

interface OdooNotificationService {
  add(
    message: string,
    options?: { title?: string; type?: "info" | "success" | "warning" | "danger"; sticky?: boolean },
  ): () => void;
}

interface OdooActionService {
  doAction(action: unknown, options?: Record<string, unknown>): Promise<void>;
}

interface OdooBusService {
  addChannel(name: string): void;
  deleteChannel(name: string): void;
  subscribe(type: string, callback: (payload: unknown) => void): void;
  unsubscribe(type: string, callback: (payload: unknown) => void): void;
  start(): void | Promise<void>;
}

interface OdooDialogService {
  /** Opens `component` in a dialog with `props` plus `close`; returns what closes it. */
  add(component: unknown, props?: Record<string, unknown>, options?: { onClose?: () => void }): () => void;
}

interface OdooServices {
  dialog: OdooDialogService;
  orm: OdooOrmService;
  notification: OdooNotificationService;
  action: OdooActionService;
  bus_service: OdooBusService;
  hotkey: OdooHotkeyService;
}

interface OdooHotkeyService {
  add(hotkey: string, callback: (context: HotkeyContext) => void, options?: HotkeyOptions): () => void;
}

/** The parts of a form view's record (web/model/relational_model/record.js) a field widget uses. */
interface OdooRecord {
  /** Field values; a many2one is `[id, display_name]` or false. */
  readonly data: Record<string, unknown>;
  readonly resId: number | false | undefined;
  readonly isNew: boolean;
  update(changes: Record<string, unknown>): Promise<void>;
  save(options?: Record<string, unknown>): Promise<boolean>;
  isDirty(): Promise<boolean>;
  readonly model: { bus: EventTarget & { trigger(name: string, payload?: unknown): void } };
}

declare module "@web/core/user" {
  export const user: {
    userId: number;
    name: string;
    isAdmin: boolean;
    hasGroup(group: string): Promise<boolean>;
    context: Record<string, unknown>;
  };
}
