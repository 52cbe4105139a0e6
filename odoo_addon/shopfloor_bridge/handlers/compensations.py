"""Compensating operations: undo what a floor event booked with moves Odoo's own flows accept.

The floor-side compensation events (``production.corrected``,
``scrap.reversed``, ``consumption.reversed``) and the reversal of applied
events share these primitives. None of them deletes stock history: a done
stock move is answered by a return move (``origin_returned_move_id`` set, so
valuation takes the original move's price, as Odoo's returns do), an open one
has its quantity lowered.

API (stable; every function raises ``CompensationRefused`` with a named
``reason`` when Odoo cannot undo, and returns the records it changed or made):

- ``change_producing(production, delta, time)``: the MO's producing quantity
  moves by ``delta`` (signed, in the MO's unit), followed by Odoo's cascade.
- ``return_scrap(scrap, qty, time)``: ``qty`` (in the scrap's unit) of a done
  scrap goes back from the scrap location to where it was scrapped from.
- ``returnable_scrap_qty(scrap)``: what of a done scrap was not returned yet.
- ``return_consumption(move, qty, time, lot=None, serials=None)``: ``qty`` (in
  the move's unit) of a raw move the floor booked is given back: an open move
  books less; a done move (a done MO) is answered by a return move from the
  production location to the component's source location.
- ``returnable_consumption_qty(move, lot=None)``: what of a raw move can be given back.

``time`` dates the moves made (the event's time, never now()).
"""

from odoo.tools import float_compare, float_is_zero, float_round

from ..exceptions import PermanentError
from .moves import set_move_quantity
from .producing import synchronise_moves


class CompensationRefused(PermanentError):
    """Odoo cannot undo this (or not that much): dead letter, with ``reason`` naming why
    and a message saying what to do instead."""

    def __init__(self, reason, message):
        super().__init__(f"Refused ({reason}): {message}", reason=reason)
        self.reason = reason


# ---------------------------------------------------------------------- producing quantity


def producing_floor(production):
    """The lowest producing quantity the MO may go down to: what its finished work
    orders already recorded as produced (Odoo keeps it on the work order when it is
    finished), and what is already done on the MO (backorders)."""
    done_workorders = production.workorder_ids.filtered(lambda wo: wo.state == "done")
    return max([production.qty_produced, *done_workorders.mapped("qty_produced")])


def change_producing(production, delta, time):
    """``production.qty_producing += delta`` (``delta`` signed, in the MO's unit), then
    Odoo's cascade (``_set_qty_producing`` and the line compaction), as a production
    report does it alone. Returns the MO.

    Refused: ``order_closed`` (a done or cancelled MO: undo it with Odoo's Unbuild),
    ``below_zero``, ``below_done`` (below what finished work orders recorded)."""
    production.ensure_one()
    rounding = production.product_uom_id.rounding
    if production.state in ("done", "cancel"):
        raise CompensationRefused(
            "order_closed",
            f"{production.name} is {production.state}: its produced quantity cannot be corrected from the floor. "
            "Unbuild the extra quantity in Odoo (Manufacturing > Unbuild Orders), or correct it on a new order.",
        )
    new_qty = float_round(production.qty_producing + delta, precision_rounding=rounding)
    if float_compare(new_qty, 0.0, precision_rounding=rounding) < 0:
        raise CompensationRefused(
            "below_zero",
            f"a correction of {delta:g} {production.product_uom_id.name} would take {production.name} "
            f"from {production.qty_producing:g} to {new_qty:g} producing.",
        )
    floor = producing_floor(production)
    if float_compare(new_qty, floor, precision_rounding=rounding) < 0:
        raise CompensationRefused(
            "below_done",
            f"a correction of {delta:g} {production.product_uom_id.name} would take {production.name} to "
            f"{new_qty:g}, below the {floor:g} its finished work orders already recorded; reopen them in Odoo first.",
        )
    production.qty_producing = new_qty
    synchronise_moves(production)
    return production


# ---------------------------------------------------------------------- scraps


def _returned_moves(moves):
    """Done return moves made against ``moves``."""
    return moves.env["stock.move"].search(
        [("origin_returned_move_id", "in", moves.ids), ("state", "=", "done")], order="id"
    )


def _product_qty_to(moves, uom):
    """The moves' done quantity, in ``uom``."""
    total = 0.0
    for move in moves:
        total += move.product_uom._compute_quantity(move.quantity, uom, round=False)
    return total


def returnable_scrap_qty(scrap):
    """What of the done ``scrap`` was not returned yet, in the scrap's unit."""
    scrapped = scrap.move_ids.filtered(lambda move: move.state == "done")
    if not scrapped:
        return 0.0
    left = _product_qty_to(scrapped, scrap.product_uom_id) - _product_qty_to(
        _returned_moves(scrapped), scrap.product_uom_id
    )
    return float_round(max(left, 0.0), precision_rounding=scrap.product_uom_id.rounding)


def return_scrap(scrap, qty, time):
    """``qty`` (the scrap's unit) of ``scrap`` back from the scrap location to its source
    location (lot and owner kept), by a done move marked as a return of the scrap's
    move. Returns that move.

    Refused: ``scrap_not_done``, ``nothing_to_return`` (qty ≤ 0), ``kit_scrap`` (a kit's
    scrap exploded into its components: return them by hand), ``already_reversed``,
    ``more_than_scrapped``."""
    scrap.ensure_one()
    uom = scrap.product_uom_id
    if scrap.state != "done":
        raise CompensationRefused("scrap_not_done", f"scrap {scrap.name} is not validated: cancel or edit it in Odoo.")
    if float_compare(qty, 0.0, precision_rounding=uom.rounding) <= 0:
        raise CompensationRefused("nothing_to_return", f"a return of {qty:g} {uom.name} from {scrap.name}.")
    scrapped = scrap.move_ids.filtered(lambda move: move.state == "done")
    if len(scrapped) != 1 or scrapped.product_id != scrap.product_id:
        raise CompensationRefused(
            "kit_scrap",
            f"scrap {scrap.name} of {scrap.product_id.display_name} was booked as {len(scrapped)} component moves: "
            "return the components by hand (Inventory > Transfers, from the scrap location).",
        )
    left = returnable_scrap_qty(scrap)
    if float_is_zero(left, precision_rounding=uom.rounding):
        raise CompensationRefused("already_reversed", f"scrap {scrap.name} was already returned in full.")
    if float_compare(qty, left, precision_rounding=uom.rounding) > 0:
        raise CompensationRefused(
            "more_than_scrapped",
            f"a return of {qty:g} {uom.name} from scrap {scrap.name}, which has {left:g} {uom.name} left to return "
            f"(of {scrap.scrap_qty:g} scrapped).",
        )
    move = _return_move(
        scrapped,
        qty,
        uom,
        time,
        location=scrap.scrap_location_id,
        location_dest=scrap.location_id,
        lot=scrap.lot_id,
        owner=scrap.owner_id,
        name=f"Return of {scrap.name}",
    )
    return move


def _return_move(original, qty, uom, time, location, location_dest, lot=None, owner=None, name=None, serials=None):
    """A done move of ``qty`` (``uom``) from ``location`` to ``location_dest``, marked as a
    return of ``original`` (done moves, like Odoo's return wizard makes them), dated ``time``."""
    env = original.env
    product = original.product_id
    lines = []
    if serials:
        for serial in serials:
            lines.append(_line_values(product, 1.0, product.uom_id, location, location_dest, serial, owner))
        uom = product.uom_id
    else:
        lines.append(_line_values(product, qty, uom, location, location_dest, lot, owner))
    move = env["stock.move"].create(
        {
            "name": name or f"Return of {original.reference or original.name}",
            "origin": original.reference or original.origin or original.name,
            "company_id": original.company_id.id,
            "product_id": product.id,
            "product_uom": uom.id,
            "product_uom_qty": len(serials) if serials else qty,
            "location_id": location.id,
            "location_dest_id": location_dest.id,
            "origin_returned_move_id": original.id,
            "procure_method": "make_to_stock",
            "move_line_ids": [(0, 0, values) for values in lines],
            "picked": True,
        }
    )
    move._action_done()
    when = time.replace(microsecond=0) if time else time
    if when:
        move.write({"date": when})
        move.move_line_ids.write({"date": when})
    return move


def _line_values(product, qty, uom, location, location_dest, lot, owner):
    return {
        "product_id": product.id,
        "product_uom_id": uom.id,
        "quantity": qty,
        "location_id": location.id,
        "location_dest_id": location_dest.id,
        "lot_id": lot.id if lot else False,
        "owner_id": owner.id if owner else False,
    }


# ---------------------------------------------------------------------- consumptions


def _floor_booked(move):
    """True when the floor (or a person) set the move's quantity (picked and manual)."""
    return move.picked and move.manual_consumption


def _lines_qty(lines, uom):
    return sum(line.product_uom_id._compute_quantity(line.quantity, uom, round=False) for line in lines)


def returnable_consumption_qty(move, lot=None):
    """What of raw ``move`` can be given back (the move's unit): on an open move, what the
    floor booked (of ``lot`` when given); on a done move, what was consumed and not
    returned yet (of ``lot`` when given)."""
    if move.state == "done":
        lines = move.move_line_ids.filtered(lambda line: not lot or line.lot_id == lot)
        returned_lines = _returned_moves(move).move_line_ids.filtered(lambda line: not lot or line.lot_id == lot)
        consumed = _lines_qty(lines, move.product_uom) - _lines_qty(returned_lines, move.product_uom)
        return float_round(max(consumed, 0.0), precision_rounding=move.product_uom.rounding)
    if move.state == "cancel" or not _floor_booked(move):
        return 0.0
    if lot:
        return _lines_qty(move.move_line_ids.filtered(lambda line: line.lot_id == lot), move.product_uom)
    return move.quantity


def return_consumption(move, qty, time, lot=None, serials=None):
    """Give back ``qty`` (the move's unit) of raw ``move`` (of ``lot``, or the ``serials``
    — stock.lot records — one unit each). Returns the move changed (open) or the
    return move made (done).

    Refused: ``nothing_to_return``, ``not_floor_booked`` (an open move whose quantity
    the floor never set), ``wrong_lot`` (the lot or a serial is not on the move),
    ``more_than_consumed``, ``move_cancelled``."""
    move.ensure_one()
    uom = move.product_uom
    product = move.product_id
    if serials:
        qty = float(len(serials))
    if float_compare(qty, 0.0, precision_rounding=uom.rounding) <= 0:
        raise CompensationRefused("nothing_to_return", f"a return of {qty:g} {uom.name} of {product.display_name}.")
    if move.state == "cancel":
        raise CompensationRefused("move_cancelled", f"the move of {product.display_name} is cancelled.")
    if move.state != "done" and not _floor_booked(move):
        raise CompensationRefused(
            "not_floor_booked",
            f"no consumption of {product.display_name} was booked from the floor on "
            f"{move.raw_material_production_id.name}; correct it in Odoo if Odoo's own figure is wrong.",
        )
    if serials:
        booked = move.move_line_ids.lot_id
        missing = [serial.name for serial in serials if serial not in booked]
        if missing:
            raise CompensationRefused(
                "wrong_lot",
                f"serial(s) {', '.join(missing)} of {product.display_name} were not consumed by this order.",
            )
        if move.state == "done":
            returned = _returned_moves(move).move_line_ids.lot_id
            again = [serial.name for serial in serials if serial in returned]
            if again:
                raise CompensationRefused("already_reversed", f"serial(s) {', '.join(again)} were already given back.")
    elif lot and lot not in move.move_line_ids.lot_id:
        raise CompensationRefused(
            "wrong_lot", f"lot {lot.name} of {product.display_name} was not consumed by this order."
        )
    if not serials:
        left = returnable_consumption_qty(move, lot)
        if float_compare(qty, left, precision_rounding=uom.rounding) > 0:
            of_lot = f" of lot {lot.name}" if lot else ""
            raise CompensationRefused(
                "more_than_consumed",
                f"a return of {qty:g} {uom.name} of {product.display_name}{of_lot}, of which only {left:g} "
                f"{uom.name} {'was consumed' if move.state == 'done' else 'is booked'} on "
                f"{move.raw_material_production_id.name or move.reference}.",
            )
    if move.state == "done":
        return _return_move(
            move,
            qty,
            uom,
            time,
            location=move.location_dest_id,
            location_dest=move.location_id,
            lot=lot,
            serials=serials,
            name=f"Return of {product.display_name} from {move.raw_material_production_id.name or move.reference}",
        )
    if serials:
        move.move_line_ids.filtered(lambda line: line.lot_id in serials).unlink()
    elif lot:
        _lower_lines(move.move_line_ids.filtered(lambda line: line.lot_id == lot), qty, uom)
    else:
        total = float_round(move.quantity - qty, precision_rounding=uom.rounding)
        set_move_quantity(move, total)
    move.write({"picked": True, "manual_consumption": True})
    return move


def _lower_lines(lines, qty, uom):
    """Take ``qty`` (``uom``) off ``lines``, last first; a line that reaches zero goes."""
    for line in lines.sorted("id", reverse=True):
        if float_is_zero(qty, precision_rounding=uom.rounding):
            return
        line_qty = line.product_uom_id._compute_quantity(line.quantity, uom, round=False)
        taken = min(line_qty, qty)
        qty -= taken
        rest = float_round(line_qty - taken, precision_rounding=uom.rounding)
        if float_is_zero(rest, precision_rounding=uom.rounding):
            line.unlink()
        else:
            line.quantity = uom._compute_quantity(rest, line.product_uom_id, round=False)
