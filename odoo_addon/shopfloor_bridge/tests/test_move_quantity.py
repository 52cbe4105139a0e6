"""Booking a component's quantity (``moves.set_move_quantity``) ends as Odoo's
``_set_quantity_done`` followed by ``compact_move_lines``: the same lines, quantities
and reservations, whether it takes the short way (raise the line the rest would be
merged into) or books the long way."""

from odoo.tests import tagged

from ..handlers.moves import LINE_IDENTITY, compact_move_lines, set_move_quantity
from .common import ShopfloorCase

LINE_FIELDS = (*LINE_IDENTITY, "quantity")


@tagged("post_install", "-at_install")
class TestMoveQuantity(ShopfloorCase):
    def bolt_move(self):
        return self.mo1.move_raw_ids.filtered(lambda move: move.product_id == self.product_bolt)

    def snapshot(self, move, known):
        """What a booking leaves: the move's lines (ids of lines made since ``known``
        read "new": a rolled-back sequence is not reused) and state, and the bolts' quants."""
        self.env.flush_all()
        self.env.invalidate_all()
        lines = [
            tuple(line[name].id if hasattr(line[name], "id") else line[name] for name in LINE_FIELDS)
            for line in move.move_line_ids
        ]
        quants = self.env["stock.quant"].search([("product_id", "=", self.product_bolt.id)], order="id")
        return {
            "lines": lines,
            "line_ids": [line_id if line_id in known else "new" for line_id in move.move_line_ids.ids],
            "move": (move.quantity, move.state, move.picked),
            "quants": [(quant.location_id.id, quant.quantity, quant.reserved_quantity) for quant in quants],
            "production": (move.raw_material_production_id.state, move.raw_material_production_id.reservation_state),
        }

    def lines_made(self):
        """Move lines ever made (their id sequence: a rollback does not take it back)."""
        self.env.flush_all()
        self.env.cr.execute("SELECT last_value FROM stock_move_line_id_seq")
        return self.env.cr.fetchone()[0]

    def both_ways(self, move, steps):
        """Each step (total, then a picked/manual write as material.consumed makes) the long way,
        rolled back, then the short way; returns (long, short, lines made by the short way)."""
        long_way, short_way = [], []
        known = set(move.move_line_ids.ids)
        savepoint = self.env.cr.savepoint()
        for total in steps:
            move._set_quantity_done(total)
            compact_move_lines(move)
            move.write({"picked": True, "manual_consumption": True})
            long_way.append(self.snapshot(move, known))
        savepoint.close(rollback=True)
        self.env.invalidate_all()
        before = self.lines_made()
        for total in steps:
            set_move_quantity(move, total)
            move.write({"picked": True, "manual_consumption": True})
            short_way.append(self.snapshot(move, known))
        return long_way, short_way, self.lines_made() - before

    def test_raising_the_line_ends_as_booking_and_compacting(self):
        move = self.bolt_move()
        reserved = move.quantity
        self.assertEqual(len(move.move_line_ids), 1, "one reservation line to start from")
        # Up past the reservation, a fraction, a decrease (booked the long way), up again.
        steps = [reserved + 3, reserved + 7.5, reserved + 7.5, reserved - 20, reserved + 40]
        long_way, short_way, made = self.both_ways(move, steps)
        for step, (want, have) in enumerate(zip(long_way, short_way, strict=True)):
            self.assertEqual(have, want, f"step {step}: total {steps[step]}")
        self.assertEqual(made, 0, "the short way made no line")
        self.assertEqual(short_way[-1]["move"][0], reserved + 40)

    def test_a_rest_that_stays_a_line_of_its_own_is_booked_the_long_way(self):
        # The move's only line takes its bolts from a shelf: the rest goes to a plain
        # line of the stock location, which compaction keeps apart.
        shelf = self.env["stock.location"].create(
            {"name": "Shelf B", "location_id": self.stock_location.id, "usage": "internal"}
        )
        self.env["stock.quant"]._update_available_quantity(self.product_bolt, shelf, 50.0)
        move = self.bolt_move()
        move._do_unreserve()
        self.env["stock.move.line"].create(
            {
                "move_id": move.id,
                "product_id": self.product_bolt.id,
                "product_uom_id": move.product_uom.id,
                "location_id": shelf.id,
                "location_dest_id": move.location_dest_id.id,
                "quantity": 20,
            }
        )
        long_way, short_way, made = self.both_ways(move, [25, 30])
        self.assertEqual(short_way, long_way)
        self.assertEqual(made, 1, "the rest became a line of its own, then grew")
        self.assertEqual(sorted(line[0] for line in short_way[-1]["lines"]), sorted([shelf.id, self.stock_location.id]))
