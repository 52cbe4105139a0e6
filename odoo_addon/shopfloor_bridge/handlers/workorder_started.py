"""workorder.started: open a productive time log at ``time``; WO (and MO) to progress.

Replicates ``mrp.workorder.button_start`` with the event's time instead of now()
and without pre-filling the producing quantity: quantities come from the floor's
own production/completion events.
"""

from dateutil.relativedelta import relativedelta

from . import timelog, undo
from .producing import settle_quantity


def start_workorder(ctx, workorder, running=None):
    """button_start's effects at ``ctx.time``; returns the open productive log.
    ``running``: the WO's open logs of ``ctx.user``, when the caller just read them."""
    # Not button_start: it stamps now() on the log, the WO and the MO, and pre-fills qty_producing.
    ctx.check_holds(workorder, "start the work order")
    log, _created = timelog.open_log(
        ctx,
        "work",
        timelog.productive_loss(ctx, workorder),
        workorder.workcenter_id,
        workorder=workorder,
        description=_describe(ctx),
        running=running,
    )
    start = ctx.time.replace(microsecond=0)
    production = workorder.production_id
    if workorder.state != "progress" or production.state != "progress":
        # What follows reads the MO's state and the WO's expected duration, as they are once written.
        settle_quantity(ctx, production)
    if production.state != "progress" and (not production.date_start or production.date_start > start):
        undo.remember(
            ctx, "record", model=production._name, id=production.id, values=undo.values_of(production, ["date_start"])
        )
        production.with_context(force_date=True).write({"date_start": start})
    if workorder.state != "progress":
        undo.remember(
            ctx,
            "record",
            model=workorder._name,
            id=workorder.id,
            values=undo.values_of(workorder, ["state", "date_start", "date_finished", "leave_id"]),
        )
        values = {"state": "progress", "date_start": start}
        if not workorder.leave_id:
            leave = ctx.env["resource.calendar.leaves"].create(
                {
                    "name": workorder.display_name,
                    "calendar_id": workorder.workcenter_id.resource_calendar_id.id,
                    "date_from": start,
                    "date_to": start + relativedelta(minutes=workorder.duration_expected),
                    "resource_id": workorder.workcenter_id.resource_id.id,
                    "time_type": "other",
                }
            )
            undo.remember(ctx, "created", model=leave._name, id=leave.id)
            values.update({"date_finished": leave.date_to, "leave_id": leave.id})
            workorder.write(values)
        else:
            if not workorder.date_start or workorder.date_start > start:
                values["date_finished"] = workorder._calculate_date_finished(start)
            else:
                del values["date_start"]
            if workorder.date_finished and workorder.date_finished < start:
                values["date_finished"] = start
            workorder.with_context(bypass_duration_calculation=True).write(values)
    return log


def _describe(ctx):
    operator = ctx.text("operator")
    who = f" by {operator}" if operator else ""
    return f"{ctx.type}{who} ({ctx.event.source})"


def apply(ctx):
    production = ctx.production()
    workorder = ctx.workorder(production)
    return [start_workorder(ctx, workorder), workorder]
