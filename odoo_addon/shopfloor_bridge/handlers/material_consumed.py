"""material.consumed: actual component consumption booked on the MO's raw move.

Each event is one consumption and adds to what was already booked. The move
is marked picked and manual, so Odoo's producing-quantity cascade
(``_set_qty_producing``) keeps the floor's figure instead of the BOM's.
"""

from odoo.tools import float_round

from ..exceptions import PermanentError
from . import tracking, undo
from .moves import set_move_quantity


def apply(ctx):
    production = ctx.production()
    product = ctx.product(ctx.text("material", required=True))
    move = production.move_raw_ids.filtered(lambda m: m.product_id == product and m.state not in ("done", "cancel"))[:1]
    if not move:
        raise PermanentError(
            f"{product.display_name} is not an open component of {production.name}: "
            f"add it to the order or fix the material mapping."
        )
    uom = ctx.uom(ctx.text("uom"), move.product_uom)
    qty = ctx.quantity(ctx.number("qty", required=True), uom, move.product_uom, f"material {product.display_name}")
    lot_name = ctx.text("lot")
    serial_names = tracking.serials(ctx)
    tracked = bool(lot_name or serial_names)
    sync = ctx.producing_sync
    # In a batch, on an MO whose lines are plain, the lines of the move are set once for
    # all its consumptions (at the batch's next synchronisation point): the same total.
    book_later = not tracked and sync is not None and sync.may_book_later(production)
    pending = sync.booked_total(move) if book_later else None
    if pending is not None:
        already = pending
    else:
        already = move.quantity if move.picked and move.manual_consumption else 0.0
    total = float_round(already + qty, precision_rounding=move.product_uom.rounding)
    undo.remember(
        ctx,
        "consumed",
        move=move.id,
        qty=qty,
        picked=move.picked,
        manual=move.manual_consumption,
        lot=lot_name or False,
    )
    if sync is not None and not book_later:
        sync.validate_scraps()  # it books stock now: the scraps reported before it first
    if tracked:
        tracking.book_component(ctx, move, product, lot_name, serial_names, qty)
    elif book_later:
        sync.book_later(move, total)
        if move.picked and move.manual_consumption and all(move.move_line_ids.mapped("picked")):
            # Nothing to write: the write would set the same flags and its inverse the same
            # lines' flag (untouched until the booking), and recompute Odoo's analytic
            # estimate from the same quantity; a write of a raw move also recomputes the
            # order's state and availability, about 5 ms per consumption.
            return [move, production]
    else:
        set_move_quantity(move, total)
    move.write({"picked": True, "manual_consumption": True})
    return [move, production]
