// The screens' CSS ships inside the JS bundle (one file, no separate asset
// entry to keep in sync); each component adds its sheet once.
const added = new Set<string>();

export function useStyles(id: string, css: string): void {
  if (added.has(id) || typeof document === "undefined") return;
  added.add(id);
  const style = document.createElement("style");
  style.dataset.sfb = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/** Shared by all screens: readable focus ring, state colours with AA contrast on white. */
export const BASE_CSS = `
.o_sfb_screen { padding: 1rem; overflow: auto; height: 100%; }
.o_sfb_screen :focus-visible { outline: 3px solid #1f6feb; outline-offset: 2px; }
.o_sfb_state { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; }
.o_sfb_state_applied, .o_sfb_state_acked { background: #d7f5dd; color: #0f5323; }
.o_sfb_state_pending, .o_sfb_state_sent { background: #fff1c2; color: #5c4400; }
.o_sfb_state_failed { background: #ffe2cc; color: #7a2e00; }
.o_sfb_state_dead, .o_sfb_state_rejected { background: #ffd9dc; color: #8a0f1c; }
.o_sfb_state_discarded, .o_sfb_state_superseded, .o_sfb_state_none { background: #e9ecef; color: #343a40; }
.o_sfb_toolbar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .75rem; }
.o_sfb_toolbar label { display: flex; flex-direction: column; font-size: .8rem; color: #343a40; }
.o_sfb_empty { padding: 2rem; text-align: center; color: #495057; }
`;
