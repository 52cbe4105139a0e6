"""downtime.started: a time log with the mapped loss from ``time``; a breakdown opens maintenance.

Like Odoo's "block" button, a downtime stops the work running on the
workcenter: its open productive logs end at the downtime's start.
The reason map's ``open_maintenance`` creates a ``maintenance.request`` on the
workcenter's equipment (``shopfloor_equipment_id``), dated at the event time.
A downtime_id names one open downtime of the event's connection: the same id
still open on another workcenter makes the start wait for that one's end.
"""

from ..exceptions import EventPending
from . import timelog


def apply(ctx):
    workcenter = ctx.workcenter(required=True)
    reason_code = ctx.text("reason_code", required=True)
    loss, open_maintenance = ctx.loss(reason_code)
    downtime_ref = ctx.text("downtime_id")
    production = ctx.production(required=False)
    workorder = ctx.workorder(production, required=False) if production else None

    already = _open_downtime(ctx, workcenter, loss, downtime_ref)
    if already:
        return [already]
    running = timelog.open_logs(ctx, workcenter=workcenter).filtered(
        lambda log: log.loss_type in ("productive", "performance")
    )
    # Not button_block (end_all on the workcenter's orders): it ends the logs at now().
    produced = list(timelog.close_logs(ctx, running)) if running else []
    log, _created = timelog.open_log(
        ctx,
        "downtime",
        loss,
        workcenter,
        workorder=workorder,
        description=f"{reason_code}: {loss.name} ({ctx.event.source})",
        downtime_ref=downtime_ref,
    )
    produced.insert(0, log)
    if open_maintenance:
        produced.append(_maintenance_request(ctx, workcenter, loss, reason_code))
    return produced


def _open_downtime(ctx, workcenter, loss, downtime_ref):
    """The downtime this event already opened (same floor id, or same reason while none is given)."""
    if downtime_ref:
        log = timelog.open_downtime_by_ref(ctx, downtime_ref)
        if log and log.workcenter_id != workcenter:
            raise EventPending(
                f"Floor downtime {downtime_ref!r} of connection {ctx.connection_label} is still open on "
                f"{log.workcenter_id.name} (since {log.date_start}); this start names {workcenter.name}. "
                f"A downtime id names one open downtime per connection: waiting for its end."
            )
        return log
    open_downtimes = timelog.of_this_floor(ctx, timelog.open_logs(ctx, workcenter=workcenter)).filtered(
        lambda log: log.shopfloor_kind == "downtime"
    )
    return open_downtimes.filtered(lambda log: log.loss_id == loss and not log.shopfloor_downtime_ref)[:1]


def _maintenance_request(ctx, workcenter, loss, reason_code):
    equipment = workcenter.shopfloor_equipment_id
    values = {
        "name": f"{loss.name} on {workcenter.name} ({reason_code})",
        "maintenance_type": "corrective",
        "request_date": ctx.time.date(),
        "schedule_date": ctx.time.replace(microsecond=0),
        "company_id": (workcenter.company_id or ctx.company).id,
        "description": f"Reported by {ctx.event.source} at {ctx.time} UTC (event {ctx.event.event_uid}).",
        "priority": "3",
    }
    if equipment:
        values["equipment_id"] = equipment.id
    return ctx.env["maintenance.request"].create(values)
