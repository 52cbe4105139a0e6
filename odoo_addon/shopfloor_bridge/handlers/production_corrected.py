"""production.corrected: the floor corrects what it reported, by a signed quantity.

``qty`` (+ or −, in ``uom``) moves the MO's producing quantity, followed by
Odoo's cascade, as a production report does alone (``compensations.change_producing``).
An optional signed ``qty_scrap`` corrects the work order's floor-scrap total the
same way. Refused, with the reason, when the order is closed, or when the
quantity would go below zero or below what finished work orders recorded.

In a batch it synchronises the MO before it applies (it is in none of
``producing``'s commuting sets), so it ends as one by one.
"""

import math

from ..exceptions import EventRejected
from . import undo
from .compensations import CompensationRefused, change_producing


def signed_number(ctx, key, required=False):
    """data.``key`` as a number that may be negative (the other handlers refuse a sign)."""
    value = ctx.data.get(key)
    if value is None:
        if required:
            raise EventRejected(f"{ctx.type}: data.{key} is required")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventRejected(f"{ctx.type}: data.{key} must be a finite number, got {value!r}")
    return float(value)


def signed_quantity(ctx, value, uom, target_uom, what):
    """``ctx.quantity`` for a signed value: the sign kept through the unit conversion."""
    converted = ctx.quantity(abs(value), uom, target_uom, what)
    return -converted if value < 0 else converted


def apply(ctx):
    production = ctx.production(required=True, allow_closed=True)
    if production.state == "done":
        change_producing(production, 0.0, ctx.time)  # refused with what to do instead
    production = ctx.production()  # a cancelled order: the usual permanent error
    workorder = ctx.workorder(production, required=False)
    if workorder:
        ctx.check_holds(workorder, "correct production")
    else:
        ctx.check_holds(
            production.workorder_ids.filtered(lambda wo: wo.state not in ("done", "cancel")), "correct production"
        )
    uom = ctx.uom(ctx.text("uom"), production.product_uom_id)
    qty = signed_quantity(ctx, signed_number(ctx, "qty", required=True), uom, production.product_uom_id, "qty")
    qty_scrap = signed_quantity(ctx, signed_number(ctx, "qty_scrap"), uom, production.product_uom_id, "qty_scrap")
    if not qty and not qty_scrap:
        raise CompensationRefused("nothing_to_correct", "production.corrected with qty 0: nothing to correct.")
    if qty_scrap:
        if not workorder:
            raise CompensationRefused(
                "no_workorder", f"a scrap correction on {production.name} needs data.operation (the work order)."
            )
        new_scrap = workorder.shopfloor_qty_scrap + qty_scrap
        if new_scrap < -production.product_uom_id.rounding / 2:
            raise CompensationRefused(
                "below_zero",
                f"a scrap correction of {qty_scrap:g} would take the floor scrap of {workorder.display_name} "
                f"from {workorder.shopfloor_qty_scrap:g} to {new_scrap:g}.",
            )
    if qty:
        undo.remember(ctx, "producing", production=production.id, previous=production.qty_producing)
        change_producing(production, qty, ctx.time)
    if qty_scrap:
        before = workorder.shopfloor_qty_scrap
        workorder.shopfloor_qty_scrap = max(new_scrap, 0.0)
        undo.remember(ctx, "floor_scrap", workorder=workorder.id, qty=workorder.shopfloor_qty_scrap - before)
    return [production, workorder]
