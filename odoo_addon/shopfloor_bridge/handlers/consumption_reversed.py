"""consumption.reversed: the floor gives back component quantity it reported as consumed.

On an open MO the component's raw move books ``qty`` less (of ``lot`` when
given; ``serials`` name the serial-tracked units given back, one each); it
stays picked and manual, so Odoo's cascade keeps the floor's figure. On a done
MO the consumed quantity comes back from the production location to the
component's source location by a return move. Either way through
``compensations.return_consumption``; refused, with the reason, beyond what was
consumed, for a lot or serial the order did not consume, and on a move the
floor never booked.
"""

from ..exceptions import EventRejected, PermanentError
from .compensations import CompensationRefused, return_consumption


def apply(ctx):
    production = ctx.production(allow_closed=True)
    product = ctx.product(ctx.text("material", required=True))
    moves = production.move_raw_ids.filtered(lambda move: move.product_id == product and move.state != "cancel")
    # The open move first (what the floor books on), else the last done one.
    move = moves.filtered(lambda move: move.state != "done")[:1] or moves.filtered(lambda m: m.state == "done")[-1:]
    if not move:
        raise PermanentError(
            f"{product.display_name} is not a component of {production.name}: nothing of it to give back; "
            f"fix the material mapping."
        )
    uom = ctx.uom(ctx.text("uom"), move.product_uom)
    qty = ctx.quantity(ctx.number("qty", required=True), uom, move.product_uom, f"material {product.display_name}")
    lot = _lot(ctx, product, ctx.text("lot")) if ctx.text("lot") else None
    serials = _serials(ctx, product)
    if serials and abs(len(serials) - move.product_uom._compute_quantity(qty, product.uom_id)) > 1e-6:
        raise CompensationRefused(
            "serial_count", f"qty {qty:g} {move.product_uom.name} but {len(serials)} serials of {product.display_name}."
        )
    sync = ctx.producing_sync
    if sync is not None:
        sync.validate_scraps()  # it may book stock now: the scraps reported before it first
    changed = return_consumption(move, qty, ctx.time, lot=lot, serials=serials)
    return [changed, production]


def _lot(ctx, product, name):
    lot = ctx.env["stock.lot"].search(
        [("name", "=", name), ("product_id", "=", product.id), ("company_id", "in", (False, ctx.company.id))], limit=1
    )
    if not lot:
        raise CompensationRefused("wrong_lot", f"unknown lot {name!r} of {product.display_name}.")
    return lot


def _serials(ctx, product):
    """data.serials (texts) as stock.lot records of ``product``, or None."""
    names = ctx.data.get("serials")
    if names is None:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(name, str) and name for name in names):
        raise EventRejected(f"{ctx.type}: data.serials must be a non-empty list of texts, got {names!r}")
    if len(set(names)) != len(names):
        raise EventRejected(f"{ctx.type}: data.serials names a serial twice")
    lots = ctx.env["stock.lot"].search(
        [("name", "in", names), ("product_id", "=", product.id), ("company_id", "in", (False, ctx.company.id))]
    )
    missing = sorted(set(names) - set(lots.mapped("name")))
    if missing:
        raise CompensationRefused("wrong_lot", f"unknown serial(s) {', '.join(missing)} of {product.display_name}.")
    return lots
