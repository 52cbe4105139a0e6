"""downtime.ended: the open downtime log closed at ``time``.

Matched by downtime_id when given (unique among the open downtimes of the
event's connection, wherever it was opened), else the open downtime of that
reason on the workcenter, else its only open downtime; downtimes another
connection's floor opened are never matched. Nothing open: the start has not
arrived yet, so the event waits.
"""

from ..exceptions import EventPending
from . import timelog


def apply(ctx):
    workcenter = ctx.workcenter(required=True)
    reason_code = ctx.text("reason_code", required=True)
    downtime_ref = ctx.text("downtime_id")
    if downtime_ref:
        log = timelog.open_downtime_by_ref(ctx, downtime_ref)
    else:
        open_downtimes = timelog.of_this_floor(ctx, timelog.open_logs(ctx, workcenter=workcenter)).filtered(
            lambda log: log.shopfloor_kind == "downtime" or log.loss_type not in ("productive", "performance")
        )
        loss, _maintenance = ctx.loss(reason_code)
        log = open_downtimes.filtered(lambda candidate: candidate.loss_id == loss)[:1]
        if not log and len(open_downtimes) == 1:
            log = open_downtimes
    if not log:
        which = (
            f"downtime {downtime_ref!r} of connection {ctx.connection_label}"
            if downtime_ref
            else f"downtime {reason_code!r}"
        )
        raise EventPending(f"No open {which} on {workcenter.name} to end (its start has not arrived yet).")
    # Not the workcenter's unblock: it ends every open log of the workcenter at now().
    return list(timelog.close_logs(ctx, log, split_overtime=False))
