"""quality.hold: an active ``shopfloor.hold`` on the order (or its WO) or on a workcenter."""


def raise_hold(ctx, production, workorder, workcenter, reason, reason_code=None, hold_ref=None):
    """The hold, or the active one already there for the same floor hold id."""
    holds = ctx.env["shopfloor.hold"]
    if hold_ref:
        existing = holds.search([("hold_ref", "=", hold_ref), ("state", "=", "active")], limit=1)
        if existing:
            return existing
    return holds.create(
        {
            "production_id": production.id if production else False,
            "workorder_id": workorder.id if workorder else False,
            "workcenter_id": workcenter.id if workcenter else False,
            "company_id": (production.company_id if production else ctx.company).id,
            "reason": reason,
            "reason_code": reason_code or False,
            "hold_ref": hold_ref or False,
            "date_start": ctx.time,
            "hold_event_id": ctx.event.id,
        }
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
