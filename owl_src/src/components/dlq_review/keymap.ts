// Keyboard shortcuts of the review screen, registered with Odoo's hotkey
// service (useHotkey). Plain keys, as Odoo names them: the service's `alt`
// only matters for the [data-hotkey] overlay, not for registered hotkeys.

export type DlqCommand = "next" | "previous" | "retry" | "discard" | "toggleSelect" | "edit" | "close";

export interface DlqHotkey {
  /** Odoo's name of the key (getActiveHotkey): lower case, modifiers first. */
  hotkey: string;
  command: DlqCommand;
  /** Held down, the cursor keeps moving; actions never repeat. */
  allowRepeat: boolean;
}

export const DLQ_HOTKEYS: readonly DlqHotkey[] = [
  { hotkey: "j", command: "next", allowRepeat: true },
  { hotkey: "arrowdown", command: "next", allowRepeat: true },
  { hotkey: "k", command: "previous", allowRepeat: true },
  { hotkey: "arrowup", command: "previous", allowRepeat: true },
  { hotkey: "r", command: "retry", allowRepeat: false },
  { hotkey: "d", command: "discard", allowRepeat: false },
  { hotkey: "x", command: "toggleSelect", allowRepeat: false },
  { hotkey: "e", command: "edit", allowRepeat: false },
  { hotkey: "escape", command: "close", allowRepeat: false },
];

/** Where typing goes: a key there is never a shortcut, Escape aside (Odoo protects input and textarea; select too here). */
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export interface FocusLike {
  tagName?: string;
  isContentEditable?: boolean;
  type?: string;
}

function typingIn(target: FocusLike | null | undefined): boolean {
  if (!target) return false;
  if (target.isContentEditable) return true;
  const tag = (target.tagName ?? "").toUpperCase();
  return TYPING.has(tag) && !(tag === "INPUT" && (target.type === "checkbox" || target.type === "radio"));
}

/** The command of a hotkey when the focus is on `target`, or undefined. */
export function commandFor(hotkey: string, target?: FocusLike | null): DlqCommand | undefined {
  const entry = DLQ_HOTKEYS.find((h) => h.hotkey === hotkey);
  if (!entry) return undefined;
  if (typingIn(target) && entry.command !== "close") return undefined;
  return entry.command;
}

/** Commands that change data; hidden and refused for non-managers. */
export const MANAGER_COMMANDS: ReadonlySet<DlqCommand> = new Set(["retry", "discard", "edit"]);
