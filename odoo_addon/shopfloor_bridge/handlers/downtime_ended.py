"""downtime.ended: the open downtime log closed at ``time``.

Matched by downtime_id when given, else the open downtime of that reason on
the workcenter, else its only open downtime. Nothing open: the start has not
arrived yet, so the event waits.
"""

from ..exceptions import EventPending
from . import timelog


def apply(ctx):
    workcenter = ctx.workcenter(required=True)
    reason_code = ctx.text("reason_code", required=True)
    downtime_ref = ctx.text("downtime_id")
    open_downtimes = timelog.open_logs(ctx, workcenter=workcenter).filtered(
        lambda log: log.shopfloor_kind == "downtime" or log.loss_type not in ("productive", "performance")
    )
    if downtime_ref:
        log = open_downtimes.filtered(lambda candidate: candidate.shopfloor_downtime_ref == downtime_ref)[:1]
    else:
        loss, _maintenance = ctx.loss(reason_code)
        log = open_downtimes.filtered(lambda candidate: candidate.loss_id == loss)[:1]
        if not log and len(open_downtimes) == 1:
            log = open_downtimes
    if not log:
        which = f"downtime {downtime_ref!r}" if downtime_ref else f"downtime {reason_code!r}"
        raise EventPending(f"No open {which} on {workcenter.name} to end (its start has not arrived yet).")
    return list(timelog.close_logs(ctx, log, split_overtime=False))
