// Entry of the module's backend bundle: each import registers one screen
// (a client action). The components' templates (.xml) and styles (.scss)
// are copied beside the bundle by scripts/build.ts and loaded by Odoo's
// asset bundle itself.
import "./components/live_view/live_view.ts";
import "./components/dashboard/dashboard.ts";
import "./components/dlq_review/dlq_review.ts";
import "./components/event_explorer/event_explorer.ts";
import "./components/dispatch_board/dispatch_board.ts";
import "./components/mapping_try/mapping_try.ts";
import "./components/tag_probe/tag_probe.ts";
