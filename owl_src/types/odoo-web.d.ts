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
  export function _t(source: string, ...values: unknown[]): string;
}

declare module "@web/webclient/actions/action_service" {
  export const standardActionServiceProps: Record<string, unknown>;
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

interface OdooServices {
  orm: OdooOrmService;
  notification: OdooNotificationService;
  action: OdooActionService;
  bus_service: OdooBusService;
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
