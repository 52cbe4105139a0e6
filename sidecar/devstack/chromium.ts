// Debian's Chromium, as tests and benchmarks launch it: never a browser
// downloaded by a tool, and no background traffic (this machine's network is
// closed; Chromium's own calls out would fail many times a second).
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
