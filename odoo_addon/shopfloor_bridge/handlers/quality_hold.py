"""quality.hold: an active ``shopfloor.hold`` on the order (or its WO) or on a workcenter.

The floor's hold_id is unique among the active holds of its connection: another
plant may use the same id. A hold id still active on another target of the
same connection makes the event wait for that hold's release (events of two
work centers may arrive out of order); if it never comes the event fails
visibly, naming both targets.
"""

from ..exceptions import EventPending


def raise_hold(ctx, production, workorder, workcenter, reason, reason_code=None, hold_ref=None):
    """The hold, or the active one already there for the same floor hold id of this connection."""
    if hold_ref:
        existing = ctx.env["shopfloor.hold"]._active_floor_hold(ctx.connection, hold_ref)
        if existing:
            _check_same_target(ctx, existing, production, workorder, workcenter)
            return existing
    return ctx.env["shopfloor.hold"].create(
        {
            "production_id": production.id if production else False,
            "workorder_id": workorder.id if workorder else False,
            "workcenter_id": workcenter.id if workcenter else False,
            "company_id": (production.company_id if production else ctx.company).id,
            "connection_id": ctx.connection.id or False,
            "reason": reason,
            "reason_code": reason_code or False,
            "hold_ref": hold_ref or False,
            "date_start": ctx.time,
            "hold_event_id": ctx.event.id,
        }
    )


def describe_target(hold):
    """What a hold holds, for a message: its order (and operation) or its workcenter."""
    if hold.production_id:
        operation = f" ({hold.workorder_id.name})" if hold.workorder_id else ""
        return f"order {hold.production_id.name}{operation}"
    return f"work center {hold.workcenter_id.name} (no order)"


def _check_same_target(ctx, existing, production, workorder, workcenter):
    """A repeated hold is the same hold; the same id on another target waits."""
    if production:
        same = existing.production_id == production and existing.workorder_id.id == (
            workorder.id if workorder else False
        )
        wanted = f"order {production.name}" + (f" ({workorder.name})" if workorder else "")
    else:
        same = not existing.production_id and existing.workcenter_id == workcenter
        wanted = f"work center {workcenter.name} (no order)"
    if same:
        return
    raise EventPending(
        f"Floor hold {existing.hold_ref!r} of connection {ctx.connection_label} is still active on "
        f"{describe_target(existing)}; this hold names {wanted}. A hold id names one active hold per "
        f"connection: waiting for its release (or send another hold_id)."
    )


def apply(ctx):
    production = ctx.production(required=False)
    # A finished operation can still be held: its output is what failed.
    workorder = (
        ctx.workorder(production, required=False, include_done=True) if production and ctx.text("operation") else None
    )
    workcenter = None if production else ctx.workcenter(required=True)
    reason_code = ctx.text("reason_code")
    reason = ctx.text("reason") or (f"Held by the floor ({reason_code})" if reason_code else "Held by the floor")
    hold = raise_hold(
        ctx, production, workorder, workcenter, reason, reason_code=reason_code, hold_ref=ctx.text("hold_id")
    )
    return [hold]
