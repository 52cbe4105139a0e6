// Entry of the module's backend bundle: each import registers one screen.
import "./bridge_home/bridge_home.ts";
import "./dashboard/dashboard.ts";
import "./dlq_review/dlq_review.ts";
import "./event_explorer/event_explorer.ts";
import "./dispatch_board/dispatch_board.ts";
