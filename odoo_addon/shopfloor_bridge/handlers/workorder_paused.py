"""workorder.paused: close the WO's open time log(s) at ``time``.

Nothing open means the start has not arrived yet (or was never sent): wait.
"""

from ..exceptions import EventPending
from . import timelog


def apply(ctx):
    production = ctx.production()
    workorder = ctx.workorder(production)
    reason_code = ctx.text("reason_code")
    if reason_code:
        ctx.loss(reason_code)  # an unmapped reason is a configuration fault, even on a pause
    logs = timelog.open_logs(ctx, workorder=workorder)
    if not logs:
        raise EventPending(
            f"Work order {workorder.display_name} has no running time log to pause (start not received yet)."
        )
    # Not button_pending: it closes one log of the env's user, at now().
    closed = timelog.close_logs(ctx, logs)
    if reason_code:
        for log in logs:
            log.description = f"{log.description or ''}\npaused: {reason_code}".strip()
    return [*closed, workorder]
