"""production.reported: partial progress, the MO's producing quantity grows by qty_good.

Each report is an increment (a counter window from the sidecar), so two
reports of 10 make 20. Scrap counts go to the WO's floor-scrap total.
A lot sets the order's finished lot (``tracking.py``); serials of a
serial-tracked product are checked (count, not used) and booked by the
completion that closes the order, which must name them all.
"""

from . import tracking, undo
from .producing import add_producing


def apply(ctx):
    production = ctx.production()
    workorder = ctx.workorder(production, required=False)
    if workorder:
        ctx.check_holds(workorder, "record production")
    else:
        ctx.check_holds(
            production.workorder_ids.filtered(lambda wo: wo.state not in ("done", "cancel")), "record production"
        )
    uom = ctx.uom(ctx.text("uom"), production.product_uom_id)
    qty_good = ctx.quantity(ctx.number("qty_good", required=True), uom, production.product_uom_id, "qty_good")
    qty_scrap = ctx.quantity(ctx.number("qty_scrap"), uom, production.product_uom_id, "qty_scrap")
    lot_name, _serials = tracking.check_finished(ctx, production, qty_good, production.product_uom_id)
    tracking.set_finished_lot(ctx, production, lot_name)
    if qty_scrap and workorder:
        undo.remember(ctx, "floor_scrap", workorder=workorder.id, qty=qty_scrap)
        workorder.shopfloor_qty_scrap += qty_scrap
    if qty_good:
        undo.remember(ctx, "producing_added", production=production.id, qty=qty_good)
        add_producing(ctx, production, qty_good)
    return [production, workorder]
