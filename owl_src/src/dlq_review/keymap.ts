// Keyboard shortcuts of the review screen: a pure map from a key event to
// a command, so the component only dispatches.

export type DlqCommand = "next" | "previous" | "retry" | "discard" | "toggleSelect" | "edit" | "close";

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** The element the key went to: typing in a field is never a shortcut. */
  target?: { tagName?: string; isContentEditable?: boolean } | null;
}

const KEYS: Record<string, DlqCommand> = {
  j: "next",
  ArrowDown: "next",
  k: "previous",
  ArrowUp: "previous",
  r: "retry",
  d: "discard",
  x: "toggleSelect",
  e: "edit",
  Escape: "close",
};

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export function commandFor(ev: KeyLike): DlqCommand | undefined {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return undefined;
  const target = ev.target;
  if (target && (target.isContentEditable || TYPING.has((target.tagName ?? "").toUpperCase()))) {
    return ev.key === "Escape" ? "close" : undefined;
  }
  return KEYS[ev.key];
}

/** Commands that change data; hidden and refused for non-managers. */
export const MANAGER_COMMANDS: ReadonlySet<DlqCommand> = new Set(["retry", "discard", "edit"]);
