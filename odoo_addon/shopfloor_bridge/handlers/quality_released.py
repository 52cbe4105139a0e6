"""quality.released: the matching active holds released at ``time``.

Matched by the floor's hold_id when given, else every active hold of the order
(or workcenter). No active hold means the hold event has not arrived yet: wait.
Events that waited on the hold are woken up to apply now.
"""

from ..exceptions import EventPending


def apply(ctx):
    holds = ctx.env["shopfloor.hold"]
    hold_ref = ctx.text("hold_id")
    production = ctx.production(required=False, allow_closed=True)
    domain = [("state", "=", "active")]
    if hold_ref:
        domain.append(("hold_ref", "=", hold_ref))
        target = f"floor hold {hold_ref!r}"
    elif production:
        domain.append(("production_id", "=", production.id))
        target = production.name
    else:
        workcenter = ctx.workcenter(required=True)
        domain += [("production_id", "=", False), ("workcenter_id", "=", workcenter.id)]
        target = workcenter.name
    active = holds.search(domain)
    if not active:
        raise EventPending(f"No active hold on {target} to release (the hold may not have arrived yet).")
    return list(active._release(ctx.time, event=ctx.event))
