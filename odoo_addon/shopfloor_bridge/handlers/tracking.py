"""Lots and serials the floor sends: the finished product's (``lot``, ``serials`` on
completions and reports) and the components' (``lot``, ``serials`` on consumptions).

Refusals, each naming what to fix:

- a lot or serials on a product Odoo does not track: permanent (the product's
  tracking or the floor's program is wrong; nothing is guessed);
- a lot or serial whose name exists in the company only for another product:
  permanent, naming that product;
- a serial already produced, still in stock, or already booked on the order:
  permanent, naming the serials;
- as many serials as units: any other count is rejected (the event itself is wrong).
  Twice the same serial in one event never gets here: the schema refuses it
  (``uniqueItems``) on both sides.

A serial-tracked finished product is made one unit per order in Odoo
(``_set_qty_producing`` holds its producing quantity at 1). An order closed
with several serials goes through Odoo's own mass-production path, the one
``mrp.batch.produce`` takes: ``_split_productions`` into one order per serial,
each given its serial as ``lot_producing_id``, all marked done together.
"""

from odoo.tools import float_compare, float_is_zero, float_round

from ..exceptions import EventRejected, PermanentError
from .resolve import run_odoo


def serials(ctx):
    """The event's ``data.serials`` (the schema checked texts, unique, 1..10000 of them), or []."""
    values = ctx.data.get("serials") or []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise EventRejected(f"{ctx.type}: data.serials must be a list of texts")
    blank = [value for value in values if not value.strip()]
    if blank:
        raise EventRejected(f"{ctx.type}: data.serials holds {len(blank)} blank serial(s)")
    return values


def unit_count(qty, uom, product, what):
    """``qty`` in ``uom`` as a whole number of the product's units, or EventRejected."""
    units = uom._compute_quantity(qty, product.uom_id, rounding_method="HALF-UP")
    count = round(units)
    if float_compare(units, count, precision_digits=6):
        raise EventRejected(
            f"{what}: {units:g} {product.uom_id.name} of serial-tracked {product.display_name} "
            "is not a whole number of serials"
        )
    return count


def _check_count(ctx, names, qty, uom, product, what):
    count = unit_count(qty, uom, product, what)
    if len(names) != count:
        raise EventRejected(
            f"{what}: {len(names)} serial(s) sent for {count} unit(s) of {product.display_name}; "
            "send one serial per unit."
        )


def _lots_by_name(ctx, names, product):
    """{name: stock.lot} of ``product`` in the company; names found only on other products refused."""
    company_ids = (False, ctx.company.id)
    lots = ctx.env["stock.lot"].search(
        [("name", "in", list(names)), ("product_id", "=", product.id), ("company_id", "in", company_ids)]
    )
    found = {lot.name: lot for lot in lots}
    missing = [name for name in names if name not in found]
    if missing:
        others = ctx.env["stock.lot"].search(
            [("name", "in", missing), ("product_id", "!=", product.id), ("company_id", "in", company_ids)]
        )
        if others:
            owners = ", ".join(f"{lot.name!r} is a lot of {lot.product_id.display_name}" for lot in others[:5])
            raise PermanentError(f"Lot/serial of another product sent for {product.display_name}: {owners}.")
    return found


def _refuse_untracked(product, lot_name, names):
    if product.tracking == "none" and (lot_name or names):
        raise PermanentError(
            f"{product.display_name} is not tracked by lot or serial, but the event names "
            f"{'lot ' + repr(lot_name) if lot_name else str(len(names)) + ' serial(s)'}: "
            "track the product in Odoo (Inventory tab) or stop sending lots for it."
        )


# ---------------------------------------------------------------------- finished product


def check_finished(ctx, production, qty_good, uom):
    """Validate the finished lot/serials of a report or completion before anything is booked;
    returns (lot name or None, serial names)."""
    product = production.product_id
    lot_name = ctx.text("lot")
    names = serials(ctx)
    _refuse_untracked(product, lot_name, names)
    if product.tracking == "lot" and names:
        raise PermanentError(
            f"{product.display_name} is tracked by lot, not by serial: send data.lot instead of data.serials."
        )
    if product.tracking == "serial":
        if lot_name:
            if names:
                raise EventRejected(f"{ctx.type}: send a serial-tracked product's serials in data.serials only")
            names = [lot_name]
            lot_name = None
        if names:
            _check_count(ctx, names, qty_good, uom, product, f"{ctx.type} of {production.name}")
            _check_serials_unused(ctx, production, names)
    return lot_name, names


def _check_serials_unused(ctx, production, names):
    product = production.product_id
    lots = _lots_by_name(ctx, names, product)
    used = []
    for name, lot in lots.items():
        if production._is_finished_sn_already_produced(lot):
            used.append(f"{name} (already produced)")
        elif any(
            float_compare(quant.quantity, 0, precision_rounding=product.uom_id.rounding) > 0
            for quant in lot.quant_ids
            if quant.location_id.usage == "internal"
        ):
            used.append(f"{name} (in stock)")
        else:
            other = ctx.env["mrp.production"].search(
                [("lot_producing_id", "=", lot.id), ("state", "not in", ("cancel",)), ("id", "!=", production.id)],
                limit=1,
            )
            if other:
                used.append(f"{name} (producing on {other.name})")
    if used:
        raise PermanentError(f"Serial(s) of {product.display_name} already used: {', '.join(used[:20])}.")


def set_finished_lot(ctx, production, lot_name):
    """A lot-tracked MO's ``lot_producing_id`` from the floor's lot (found or created) or, under the
    connection's ``odoo`` lot policy, generated as Odoo's button does when the floor sends none."""
    product = production.product_id
    if product.tracking != "lot":
        return
    if lot_name:
        lot = _lots_by_name(ctx, [lot_name], product).get(lot_name) or ctx.env["stock.lot"].create(
            {"name": lot_name, "product_id": product.id, "company_id": production.company_id.id}
        )
        current = production.lot_producing_id
        if (
            current
            and current != lot
            and not float_is_zero(production.qty_producing, precision_rounding=production.product_uom_id.rounding)
        ):
            raise PermanentError(
                f"{production.name} already produces lot {current.name}; the floor sent lot {lot_name}. "
                "One order makes one lot: close this order and start another for the new lot."
            )
        production.lot_producing_id = lot
    elif not production.lot_producing_id and _policy(ctx) == "odoo":
        production._set_lot_producing()


def _policy(ctx):
    return ctx.connection.lot_policy if ctx.connection else "floor"


def check_closable(ctx, production, names, units):
    """Before marking a tracked MO of ``units`` finished units done: it must have its lot or serials."""
    product = production.product_id
    if product.tracking == "lot" and not production.lot_producing_id:
        raise PermanentError(
            f"{production.name} makes lot-tracked {product.display_name} and no lot is known: send data.lot with "
            "the completion, or set the connection's Finished lots to 'Odoo generates'."
        )
    if product.tracking != "serial" or names or _policy(ctx) == "odoo":
        return
    if units > 1 or not production.lot_producing_id:
        raise PermanentError(
            f"{production.name} makes {units:g} serial-tracked {product.display_name} and no serial is known: "
            "send one serial per unit in data.serials with the completion, or set the connection's Finished lots "
            "to 'Odoo generates'."
        )


def split_for_serials(ctx, production, names, units):
    """The MOs to mark done: one per serial, through Odoo's mass-production split, each
    with its serial as ``lot_producing_id``. Without serials under the ``odoo`` policy,
    Odoo generates them: its button for one unit, its mass-production series (the next
    serial, then ``stock.lot.generate_lot_names``) for more."""
    product = production.product_id
    if product.tracking != "serial":
        return production
    if not names:
        if units <= 1 or production.lot_producing_id:
            if not production.lot_producing_id:
                production.action_generate_serial()
            return production
        first = production._prepare_stock_lot_values()["name"]
        names = [lot["lot_name"] for lot in ctx.env["stock.lot"].generate_lot_names(first, int(units))]
        _check_serials_unused(ctx, production, names)
    lots = _lots_by_name(ctx, names, product)
    missing = [name for name in names if name not in lots]
    if missing:
        created = ctx.env["stock.lot"].create(
            [{"name": name, "product_id": product.id, "company_id": production.company_id.id} for name in missing]
        )
        lots.update({lot.name: lot for lot in created})
    if len(names) == 1:
        productions = production
    else:
        floor_lines = _floor_booked_lines(production)
        productions = production._split_productions(
            {production: [1.0] * len(names)}, cancel_remaining_qty=True, set_consumed_qty=False
        )
        _share_floor_lines(productions, floor_lines)
    for order, name in zip(productions, names, strict=True):
        order.lot_producing_id = lots[name]
        order.qty_producing = 1.0
        order._set_qty_producing(False)
    return productions


def _floor_booked_lines(production):
    """{product: [(lot, quantity in the move's unit), …]} of the components the floor booked
    (picked, manual moves), taken off the order before it is split."""
    booked = {}
    for move in production.move_raw_ids.filtered(
        lambda m: m.picked and m.manual_consumption and m.state not in ("done", "cancel")
    ):
        booked[move.product_id] = [
            (line.lot_id, line.product_uom_id._compute_quantity(line.quantity, move.product_uom))
            for line in move.move_line_ids
        ]
        move.move_line_ids.unlink()
    return booked


def _share_floor_lines(productions, booked):
    """The floor's consumption shared over the split orders as Odoo's mass production books it
    per order: each order's demand in turn (one serial each for a serial component), the rest
    on the last order, so the total stays the floor's."""
    values = []
    moves_booked = productions.env["stock.move"]
    for product, pool in booked.items():
        pool = [[lot, qty] for lot, qty in pool]
        moves = productions.move_raw_ids.filtered(lambda m, product=product: m.product_id == product)
        moves = moves.sorted(lambda m: productions.ids.index(m.raw_material_production_id.id))
        # The split reserved again on the new orders: the floor says what was used.
        moves.move_line_ids.unlink()
        for index, move in enumerate(moves):
            last = index == len(moves) - 1
            need = sum(qty for _lot, qty in pool) if last else move.product_uom_qty
            while pool and float_compare(need, 0, precision_rounding=move.product_uom.rounding) > 0:
                lot, available = pool[0]
                taken = min(available, need)
                values.append(_line_values(move, lot, taken))
                need -= taken
                pool[0][1] -= taken
                if float_is_zero(pool[0][1], precision_rounding=move.product_uom.rounding):
                    pool.pop(0)
            moves_booked |= move
    productions.env["stock.move.line"].create(values)
    moves_booked.write({"picked": True, "manual_consumption": True})


# ---------------------------------------------------------------------- components


def book_component(ctx, move, product, lot_name, names, qty):
    """A consumption of a tracked component: one line for a lot, one line of 1 per serial.
    False when the consumption names no lot or serial (the caller books it untracked)."""
    _refuse_untracked(product, lot_name, names)
    if product.tracking == "serial" and lot_name and not names:
        names, lot_name = [lot_name], None
    if product.tracking == "lot" and names:
        raise PermanentError(
            f"{product.display_name} is tracked by lot, not by serial: send data.lot instead of data.serials."
        )
    if not lot_name and not names:
        return False
    uom = move.product_uom
    if names:
        _check_count(ctx, names, qty, uom, product, f"material {product.display_name}")
        lots = _lots_by_name(ctx, names, product)
        unknown = [name for name in names if name not in lots]
        if unknown:
            raise PermanentError(
                f"Unknown serial(s) of {product.display_name}: {', '.join(unknown[:20])}: receive them in Odoo first."
            )
        booked = move.raw_material_production_id.move_raw_ids.move_line_ids.lot_id
        again = [name for name in names if lots[name] in booked and move.picked and move.manual_consumption]
        if again:
            raise PermanentError(f"Serial(s) of {product.display_name} already consumed: {', '.join(again[:20])}.")
        _start_floor_lines(move)
        ctx.env["stock.move.line"].create(
            [_line_values(move, lots[name], product.uom_id._compute_quantity(1.0, uom)) for name in names]
        )
        # Odoo's own check (it runs again at mark-done): a serial consumed by another order is refused now.
        move.write({"picked": True, "manual_consumption": True})
        production = move.raw_material_production_id
        run_odoo(f"Consuming serials of {product.display_name} on {production.name}", production._check_sn_uniqueness)
        return True
    lot = _lots_by_name(ctx, [lot_name], product).get(lot_name)
    if not lot:
        raise PermanentError(f"Unknown lot {lot_name!r} of {product.display_name}: create it in Odoo first.")
    _start_floor_lines(move)
    line = move.move_line_ids.filtered(lambda ml: ml.lot_id == lot)[:1]
    if line:
        line.quantity = float_round(
            line.quantity + uom._compute_quantity(qty, line.product_uom_id),
            precision_rounding=line.product_uom_id.rounding,
        )
    else:
        ctx.env["stock.move.line"].create(_line_values(move, lot, qty))
    return True


def _start_floor_lines(move):
    if not (move.picked and move.manual_consumption):
        # First floor booking: drop the reservation-proposed lines, the floor says what was used.
        move.move_line_ids.unlink()


def _line_values(move, lot, qty):
    """A line of ``qty`` (the move's unit) of ``lot`` as Odoo prepares a move's line: with mrp's
    ``production_id``, which Odoo's serial checks (``_check_sn_uniqueness``) read."""
    values = move._prepare_move_line_vals()
    values.update({"lot_id": lot.id or False, "quantity": qty, "product_uom_id": move.product_uom.id})
    return values
