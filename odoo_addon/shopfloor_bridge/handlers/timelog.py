"""Time logs (``mrp.workcenter.productivity``) at the floor's times.

Odoo's own ``button_start`` / ``_close`` stamp ``now()``; these helpers do the
same bookkeeping with the event's time, so costing and OEE see when things
happened on the floor, not when the event reached Odoo.
"""

from dateutil.relativedelta import relativedelta

from ..exceptions import PermanentError
from . import undo
from .producing import settle_quantity

Productivity = "mrp.workcenter.productivity"


def open_logs(ctx, workorder=None, workcenter=None, user=None):
    """Open time logs of a WO (all users unless ``user``) or of a workcenter."""
    domain = [("date_end", "=", False)]
    if workorder:
        domain.append(("workorder_id", "=", workorder.id))
    if workcenter:
        domain.append(("workcenter_id", "=", workcenter.id))
    if user:
        domain.append(("user_id", "=", user.id))
    return ctx.env[Productivity].search(domain, order="date_start, id")


def of_this_floor(ctx, logs):
    """``logs`` less those another connection's floor opened: the floor's ids and
    activities are matched within the event's connection (an event without one
    matches logs opened without one). Logs written in Odoo itself (no floor
    activity, e.g. a person's block) stay visible to every floor."""
    return logs.filtered(lambda log: not log.shopfloor_kind or log.shopfloor_connection_id == ctx.connection)


def open_downtime_by_ref(ctx, downtime_ref):
    """The open downtime this connection's floor calls ``downtime_ref``, on any workcenter (at most
    one: unique index)."""
    return ctx.env[Productivity].search(
        [
            ("date_end", "=", False),
            ("shopfloor_downtime_ref", "=", downtime_ref),
            ("shopfloor_connection_id", "=", ctx.connection.id or False),
        ],
        limit=1,
    )


def open_log(ctx, kind, loss, workcenter, workorder=None, description=None, downtime_ref=None, running=None):
    """A new open log at the event time; never a second open one for the same WO and user.

    Odoo allows one open log per WO and user: the same activity already running
    is returned as is, another one (work interrupted by a setup) ends here.
    ``running``: the WO's open logs of ``ctx.user`` when the caller just read them."""
    if workorder:
        existing = open_logs(ctx, workorder=workorder, user=ctx.user) if running is None else running
        same = existing.filtered(lambda log: (log.shopfloor_kind or "work") == kind)
        if same:
            return same[:1], False
        if existing:
            close_logs(ctx, existing)
    # Not _prepare_timeline_vals: it books the env's user and the productive loss, and needs a WO.
    values = {
        "workcenter_id": workcenter.id,
        "workorder_id": workorder.id if workorder else False,
        "loss_id": loss.id,
        "date_start": ctx.time.replace(microsecond=0),
        "date_end": False,
        "user_id": ctx.user.id,
        "company_id": (workorder.company_id if workorder else workcenter.company_id or ctx.company).id,
        "description": description or f"{ctx.type} from {ctx.event.source}",
        "shopfloor_kind": kind,
        "shopfloor_downtime_ref": downtime_ref or False,
        "shopfloor_connection_id": ctx.connection.id or False,
        "shopfloor_event_id": ctx.event.id,
    }
    return ctx.env[Productivity].create(values), True


def productive_loss(ctx, workorder):
    """The loss Odoo itself would pick for starting this WO (productive, or performance once over time)."""
    duration = workorder.duration
    settle_quantity(ctx, workorder.production_id, workorder, duration)
    values = workorder._prepare_timeline_vals(duration, ctx.time)
    return ctx.env["mrp.workcenter.productivity.loss"].browse(values["loss_id"])


def close_logs(ctx, logs, split_overtime=True):
    """Close ``logs`` at the event time, as ``mrp.workcenter.productivity._close`` does at now().

    Like Odoo, productive time past the WO's expected duration becomes a
    performance loss, so the cost report shows under-performance."""
    # Not _close: it ends the logs at now().
    end = ctx.time.replace(microsecond=0)
    for log in logs:
        if end < log.date_start:
            raise PermanentError(
                f"{ctx.type} at {end} is before the start of the time log it closes "
                f"({log.date_start}, {log.workcenter_id.name}): the floor's clock or the event order is wrong."
            )
    performance_logs = ctx.env[Productivity]
    for log in logs:
        undo.remember(ctx, "closed_log", log=log.id, loss=log.loss_id.id, description=log.description or "")
        log.write({"date_end": end, "shopfloor_close_event_id": ctx.event.id})
        workorder = log.workorder_id
        if not split_overtime or not workorder or log.loss_type not in ("productive", "performance"):
            continue
        settle_quantity(ctx, workorder.production_id, workorder, workorder.duration)
        if workorder.duration > workorder.duration_expected:
            productive_end = log.date_end - relativedelta(minutes=workorder.duration - workorder.duration_expected)
            if productive_end <= log.date_start:
                performance_logs |= log
            else:
                overtime = log.copy(
                    {
                        "date_start": productive_end,
                        "date_end": end,
                        "shopfloor_connection_id": log.shopfloor_connection_id.id,
                    }
                )
                undo.remember(ctx, "split_log", log=overtime.id)
                performance_logs |= overtime
                log.write({"date_end": productive_end})
    if performance_logs:
        performance = ctx.env["mrp.workcenter.productivity.loss"].search([("loss_type", "=", "performance")], limit=1)
        if performance:
            performance_logs.write({"loss_id": performance.id})
    return logs | performance_logs
