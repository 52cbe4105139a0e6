"""workorder.resumed: reopen a productive time log at ``time``.

A WO that was never started has nothing to resume: wait for its start.
"""

from ..exceptions import EventPending
from . import timelog
from .workorder_started import start_workorder


def apply(ctx):
    production = ctx.production()
    workorder = ctx.workorder(production)
    running = timelog.open_logs(ctx, workorder=workorder, user=ctx.user)
    if running:
        return [running[:1], workorder]
    if workorder.state != "progress" and not workorder.time_ids:
        raise EventPending(f"Work order {workorder.display_name} was never started: nothing to resume yet.")
    return [start_workorder(ctx, workorder, running=running), workorder]
