"""quality.released: the matching active holds released at ``time``.

Only holds of the event's connection are matched (floor hold ids are unique
per connection; an event without a connection matches holds without one).
By the floor's hold_id when given, else every active hold this connection
raised on the order (or workcenter). A hold_id active on another order than
the one the release names is refused, naming both. No active hold means the
hold event has not arrived yet: wait. Events that waited on the hold are woken
up to apply now.
"""

from ..exceptions import EventPending, EventRejected
from .quality_hold import describe_target


def apply(ctx):
    holds = ctx.env["shopfloor.hold"]
    hold_ref = ctx.text("hold_id")
    production = ctx.production(required=False, allow_closed=True)
    if hold_ref:
        active = holds._active_floor_hold(ctx.connection, hold_ref)
        if active and production and active.production_id != production:
            raise EventRejected(
                f"Floor hold {hold_ref!r} of connection {ctx.connection_label} is active on "
                f"{describe_target(active)}, but this release names order {production.name}: "
                f"fix the order or the hold_id the floor sent."
            )
        target = f"floor hold {hold_ref!r} of connection {ctx.connection_label}"
    else:
        domain = [("state", "=", "active")]
        if production:
            domain.append(("production_id", "=", production.id))
            target = production.name
        else:
            workcenter = ctx.workcenter(required=True)
            domain += [("production_id", "=", False), ("workcenter_id", "=", workcenter.id)]
            target = workcenter.name
        on_target = holds.search(domain)
        active = on_target.filtered(lambda hold: hold.connection_id == ctx.connection)
        if not active and on_target:
            raise EventPending(
                f"No active hold of connection {ctx.connection_label} on {target} to release (it may not have "
                f"arrived yet). The active holds there were placed by {_owners(on_target)}; they are released "
                f"there, not by this connection's floor."
            )
    if not active:
        raise EventPending(f"No active hold on {target} to release (the hold may not have arrived yet).")
    return list(active._release(ctx.time, event=ctx.event))


def _owners(holds):
    names = sorted(
        {f"connection {hold.connection_id.code}" if hold.connection_id else "a person in Odoo" for hold in holds}
    )
    return ", ".join(names)
