"""Setup and teardown: time logs with the setup loss (``mrp.block_reason2``), for standard-vs-actual cost.

Setup precedes the work and teardown follows it, so both may name a finished
work order; a productive log still running on that WO ends where the
changeover starts (one open log per WO and user, as Odoo requires). An end
closes only a changeover its own connection's floor started.
"""

from ..exceptions import EventPending
from . import timelog


def _target(ctx):
    production = ctx.production(required=False, allow_closed=True)
    workorder = ctx.workorder(production, required=False, include_done=True) if production else None
    workcenter = workorder.workcenter_id if workorder else ctx.workcenter(required=True)
    return workcenter, workorder


def start(ctx, kind):
    workcenter, workorder = _target(ctx)
    already = _open_changeovers(ctx, kind, workcenter, workorder)
    if already:
        return [already[:1]]
    loss = ctx.env.ref("mrp.block_reason2")
    log, _created = timelog.open_log(
        ctx, kind, loss, workcenter, workorder=workorder, description=f"{kind} ({ctx.event.source})"
    )
    return [log]


def end(ctx, kind):
    workcenter, workorder = _target(ctx)
    logs = _open_changeovers(ctx, kind, workcenter, workorder)
    if not logs:
        raise EventPending(f"No open {kind} on {workcenter.name} to end (its start has not arrived yet).")
    return list(timelog.close_logs(ctx, logs, split_overtime=False))


def _open_changeovers(ctx, kind, workcenter, workorder):
    logs = timelog.of_this_floor(ctx, timelog.open_logs(ctx, workcenter=workcenter)).filtered(
        lambda log: log.shopfloor_kind == kind
    )
    if workorder:
        logs = logs.filtered(lambda log: log.workorder_id == workorder)
    return logs
