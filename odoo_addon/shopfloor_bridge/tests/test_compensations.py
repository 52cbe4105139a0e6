"""Floor-side compensations through ingest: production.corrected, scrap.reversed,
consumption.reversed.

Each compensation is checked against the state before the event it compensates:
stock quants, raw move quantities and lines, the MO's and work orders'
quantities, as they were. Refusals go to the dead-letter queue naming their reason.
"""

from odoo.tests import tagged

from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestCompensations(ShopfloorCase):
    # ------------------------------------------------------------------ helpers

    def quants(self):
        """Quantity per (product, location, lot) of the plant's products, everywhere."""
        products = self.product_steel | self.product_bolt | self.product_bracket
        levels = {}
        for quant in self.env["stock.quant"].search([("product_id", "in", products.ids)]):
            key = (quant.product_id.default_code, quant.location_id.complete_name, quant.lot_id.name or "")
            levels[key] = round(levels.get(key, 0.0) + quant.quantity, 6)
        return {key: value for key, value in levels.items() if value}

    def order_figures(self, production):
        """The MO's quantities, its raw moves and their lines, its work orders' quantities."""
        production.invalidate_recordset()
        return {
            "mo": (production.state, production.qty_producing, production.qty_produced),
            "moves": sorted(
                (move.product_id.default_code, move.state, move.quantity, move.picked, move.manual_consumption)
                for move in production.move_raw_ids | production.move_finished_ids
            ),
            "lines": sorted(
                (line.product_id.default_code, line.quantity, line.lot_id.name or "", line.location_id.id)
                for line in (production.move_raw_ids | production.move_finished_ids).move_line_ids
            ),
            "workorders": sorted(
                (wo.name, wo.state, wo.qty_produced, wo.shopfloor_qty_scrap) for wo in production.workorder_ids
            ),
        }

    def send(self, type_, data, **kwargs):
        result, event = self.ingest_one(self.make_event(type_, data, **kwargs))
        return result, event

    def assert_refused(self, event, reason, *words):
        self.assertEqual(event.state, "dead", event.error_message)
        self.assertIn(f"Refused ({reason})", event.error_message)
        for word in words:
            self.assertIn(word, event.error_message)

    def finish(self, production, qty):
        production.qty_producing = qty
        production._set_qty_producing()
        production.with_context(skip_consumption=True, skip_backorder=True).button_mark_done()
        self.assertEqual(production.state, "done")

    # ------------------------------------------------------------------ production.corrected

    def test_a_negative_correction_takes_the_order_back_to_before_the_wrong_report(self):
        order = self.mo1.name
        self.send("production.reported", {"order": order, "operation": "Cutting", "qty_good": 5})
        before = self.order_figures(self.mo1), self.quants()
        self.send("production.reported", {"order": order, "operation": "Cutting", "qty_good": 3})
        self.assertEqual(self.mo1.qty_producing, 8)
        result, event = self.send("production.corrected", {"order": order, "operation": "Cutting", "qty": -3})
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual((self.order_figures(self.mo1), self.quants()), before)
        self.assertIn(f"mrp.production,{self.mo1.id}", event.result_refs)

    def test_a_positive_correction_books_as_a_report_would(self):
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 4})
        self.send("production.corrected", {"order": self.mo1.name, "qty": 2.0})
        self.send("production.reported", {"order": self.mo2.name, "qty_good": 6})
        self.assertEqual(self.order_figures(self.mo1)["moves"], self.order_figures(self.mo2)["moves"])
        self.assertEqual(self.mo1.qty_producing, 6)

    def test_a_correction_in_another_unit_keeps_its_sign(self):
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 30})
        dozen = self.env.ref("uom.product_uom_dozen")
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": -1, "uom": dozen.name})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.mo1.qty_producing, 18)

    def test_a_scrap_count_correction_moves_the_work_order_floor_scrap(self):
        cutting = self.workorder_of(self.mo1, "Cutting")
        self.send("production.reported", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 4})
        before = self.order_figures(self.mo1)
        self.send(
            "production.reported", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 0, "qty_scrap": 2}
        )
        self.assertEqual(cutting.shopfloor_qty_scrap, 2)
        _r, event = self.send(
            "production.corrected", {"order": self.mo1.name, "operation": "Cutting", "qty": 0, "qty_scrap": -2}
        )
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.order_figures(self.mo1), before)
        _r, event = self.send(
            "production.corrected", {"order": self.mo1.name, "operation": "Cutting", "qty": 0, "qty_scrap": -1}
        )
        self.assert_refused(event, "below_zero", cutting.display_name)
        self.assertEqual(cutting.shopfloor_qty_scrap, 0)

    def test_a_correction_below_zero_is_refused_and_changes_nothing(self):
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 5})
        before = self.order_figures(self.mo1), self.quants()
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": -6})
        self.assert_refused(event, "below_zero", self.mo1.name, "-1")
        self.assertEqual((self.order_figures(self.mo1), self.quants()), before)

    def test_a_correction_below_a_finished_work_order_is_refused(self):
        self.send("workorder.started", {"order": self.mo1.name, "operation": "Cutting"})
        self.send("workorder.completed", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 8})
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").state, "done")
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": -3})
        self.assert_refused(event, "below_done", "8")
        self.assertEqual(self.mo1.qty_producing, 8)
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": 2})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.mo1.qty_producing, 10)

    def test_a_correction_on_a_done_order_says_to_unbuild(self):
        self.finish(self.mo1, 10)
        before = self.quants()
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": -2})
        self.assert_refused(event, "order_closed", "Unbuild")
        self.assertEqual(self.quants(), before)

    def test_a_zero_correction_is_refused(self):
        _r, event = self.send("production.corrected", {"order": self.mo1.name, "qty": 0})
        self.assert_refused(event, "nothing_to_correct")

    def test_a_correction_without_a_quantity_is_rejected(self):
        result, event = self.send("production.corrected", {"order": self.mo1.name, "qty": "-3"})
        self.assertEqual(result["status"], "rejected", result)
        self.assertIn("qty", event.error_message)

    # ------------------------------------------------------------------ scrap.reversed

    def scrap(self, data, id):
        result, event = self.send("scrap.reported", data, id=id)
        self.assertEqual(result["status"], "applied", result)
        return self.env["stock.scrap"].browse(int(event.result_refs.splitlines()[0].split(",")[1]))

    def test_a_reversed_scrap_returns_stock_to_where_it_was(self):
        before = self.quants(), self.order_figures(self.mo1)
        scrap = self.scrap(
            {"order": self.mo1.name, "operation": "Cutting", "material": "STEEL-2MM", "qty": 1.5, "uom": "KG"},
            id="scr-1",
        )
        self.assertNotEqual(self.quants(), before[0])
        result, event = self.send("scrap.reversed", {"scrap_event": "scr-1"}, time=self.at(30))
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual((self.quants(), self.order_figures(self.mo1)), before)
        returned = self.env["stock.move"].search([("origin_returned_move_id", "=", scrap.move_ids.id)])
        self.assertEqual((returned.state, returned.quantity, returned.date), ("done", 1.5, self.at(30)))
        self.assertEqual(returned.location_id, scrap.scrap_location_id)
        self.assertEqual(returned.location_dest_id, scrap.location_id)
        self.assertEqual(scrap.state, "done", "the scrap stays in the stock history")
        refs = event.result_refs.splitlines()
        self.assertIn(f"stock.move,{returned.id}", refs)
        self.assertIn(f"stock.scrap,{scrap.id}", refs)

    def test_a_scrap_is_returned_in_parts_and_then_refused(self):
        before = self.quants()
        self.scrap({"order": self.mo1.name, "material": "M8", "qty": 6}, id="scr-2")
        _r, event = self.send("scrap.reversed", {"scrap_event": "scr-2", "qty": 7})
        self.assert_refused(event, "more_than_scrapped", "6")
        _r, event = self.send("scrap.reversed", {"scrap_event": "scr-2", "qty": 2})
        self.assertEqual(event.state, "applied", event.error_message)
        _r, event = self.send("scrap.reversed", {"scrap_event": "scr-2"})  # the rest
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.quants(), before)
        _r, event = self.send("scrap.reversed", {"scrap_event": "scr-2", "qty": 1})
        self.assert_refused(event, "already_reversed")
        self.assertEqual(self.quants(), before)

    def test_a_scrap_found_by_order_material_and_quantity(self):
        before = self.quants()
        self.scrap({"order": self.mo1.name, "material": "M8", "qty": 2}, id="scr-3")
        self.scrap({"order": self.mo1.name, "material": "M8", "qty": 5}, id="scr-4")
        _r, event = self.send("scrap.reversed", {"order": self.mo1.name, "material": "M8", "qty": 4})
        self.assertEqual(event.state, "applied", event.error_message)
        _r, event = self.send("scrap.reversed", {"order": self.mo1.name, "material": "M8", "qty": 3})
        self.assert_refused(event, "more_than_scrapped", "name the scrap")
        _r, event = self.send("scrap.reversed", {"order": self.mo1.name, "material": "M8", "qty": 2})
        self.assertEqual(event.state, "applied", event.error_message)
        _r, event = self.send("scrap.reversed", {"order": self.mo1.name, "material": "M8", "qty": 1})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.quants(), before)
        _r, event = self.send("scrap.reversed", {"order": self.mo2.name, "material": "M8", "qty": 1})
        self.assert_refused(event, "no_matching_scrap", self.mo2.name)

    def test_a_reversal_before_its_scrap_waits_for_it(self):
        before = self.quants()
        result, reversal = self.send("scrap.reversed", {"scrap_event": "scr-5"}, time=self.at(40))
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("scr-5", reversal.error_message)
        self.scrap({"order": self.mo1.name, "material": "M8", "qty": 3}, id="scr-5")
        self.retry_due()
        self.assertEqual(reversal.state, "applied", reversal.error_message)
        self.assertEqual(self.quants(), before)

    def test_a_scrap_and_its_reversal_in_one_batch(self):
        before = self.quants()
        results = self.ingest(
            self.make_event("scrap.reported", {"order": self.mo1.name, "material": "M8", "qty": 3}, id="scr-6"),
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 2}),
            self.make_event("scrap.reversed", {"scrap_event": "scr-6"}),
        )
        self.assertEqual([result["status"] for result in results], ["applied"] * 3, results)
        self.assertEqual(
            {key: value for key, value in self.quants().items() if key[0] == "M8"},
            {key: value for key, value in before.items() if key[0] == "M8"},
        )

    def test_a_scrap_event_of_another_connection_is_not_reversed(self):
        other = self.connection.copy({"code": "other-conn", "name": "Other plant"})
        other.integration_user_ids = self.connection.integration_user_ids
        self.scrap({"order": self.mo1.name, "material": "M8", "qty": 3}, id="scr-7")
        result, event = self.ingest_one(
            self.make_event("scrap.reversed", {"scrap_event": "scr-7"}, connection="other-conn")
        )
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("other-conn", event.error_message)

    def test_a_reversal_of_a_dead_scrap_event_is_refused(self):
        _r, dead = self.send("scrap.reported", {"material": "UNOBTAINIUM", "qty": 3}, id="scr-8")
        self.assertEqual(dead.state, "dead")
        _r, event = self.send("scrap.reversed", {"scrap_event": "scr-8"})
        self.assert_refused(event, "scrap_not_applied", "dead")

    def test_a_reversal_needs_the_scrap_event_or_order_and_quantity(self):
        result, event = self.send("scrap.reversed", {"order": self.mo1.name})
        self.assertEqual(result["status"], "rejected", result)
        result, event = self.send("scrap.reversed", {"scrap_event": "x", "qty": 0})
        self.assertEqual(result["status"], "rejected", result)

    # ------------------------------------------------------------------ consumption.reversed

    def consumed(self, qty, uom="KG", production=None):
        production = production or self.mo1
        data = {"order": production.name, "material": "STEEL-2MM", "qty": qty, "uom": uom}
        _r, event = self.send("material.consumed", data)
        self.assertEqual(event.state, "applied", event.error_message)

    def steel_move(self, production=None):
        return (production or self.mo1).move_raw_ids.filtered(lambda move: move.product_id == self.product_steel)

    def test_a_reversed_consumption_takes_the_move_back(self):
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 4})
        self.consumed(2)
        before = self.order_figures(self.mo1), self.quants()
        self.consumed(1.5)
        self.assertEqual(self.steel_move().quantity, 3.5)
        data = {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 1500, "uom": "g"}
        result, event = self.send("consumption.reversed", data)
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual((self.order_figures(self.mo1), self.quants()), before)
        self.assertIn(f"stock.move,{self.steel_move().id}", event.result_refs)
        # Later reports keep the floor's figure (the move stays picked and manual).
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 4})
        self.assertEqual(self.steel_move().quantity, 2)

    def test_more_than_consumed_is_refused(self):
        self.consumed(2)
        before = self.order_figures(self.mo1)
        _r, event = self.send("consumption.reversed", {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 2.5})
        self.assert_refused(event, "more_than_consumed", "2.5", "only 2")
        self.assertEqual(self.order_figures(self.mo1), before)

    def test_nothing_booked_by_the_floor_is_refused(self):
        self.send("production.reported", {"order": self.mo1.name, "qty_good": 4})
        _r, event = self.send("consumption.reversed", {"order": self.mo1.name, "material": "M8", "qty": 1})
        self.assert_refused(event, "not_floor_booked")

    def test_an_unknown_lot_is_refused(self):
        self.consumed(2)
        data = {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 1, "lot": "NO-SUCH-LOT"}
        _r, event = self.send("consumption.reversed", data)
        self.assert_refused(event, "wrong_lot", "NO-SUCH-LOT")

    def test_a_consumption_of_a_lot_is_given_back_from_that_lot(self):
        self.product_steel.tracking = "lot"
        lots = self.env["stock.lot"].create(
            [{"name": name, "product_id": self.product_steel.id} for name in ("HEAT-1", "HEAT-2")]
        )
        for lot in lots:
            self.env["stock.quant"]._update_available_quantity(self.product_steel, self.stock_location, 50, lot_id=lot)
        production = self._make_mo(10)
        self.send("material.consumed", {"order": production.name, "material": "STEEL-2MM", "qty": 2, "lot": "HEAT-1"})
        before = self.order_figures(production)
        self.send("material.consumed", {"order": production.name, "material": "STEEL-2MM", "qty": 1, "lot": "HEAT-1"})
        base = {"order": production.name, "material": "STEEL-2MM"}
        _r, event = self.send("consumption.reversed", {**base, "qty": 1, "lot": "HEAT-2"})
        self.assert_refused(event, "wrong_lot", "HEAT-2")
        _r, event = self.send("consumption.reversed", {**base, "qty": 4, "lot": "HEAT-1"})
        self.assert_refused(event, "more_than_consumed", "HEAT-1")
        _r, event = self.send("consumption.reversed", {**base, "qty": 1, "lot": "HEAT-1"})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.order_figures(production), before)

    def test_serials_of_a_serial_tracked_component_are_given_back_one_each(self):
        self.product_bolt.tracking = "serial"
        names = ("SN-1", "SN-2", "SN-3")
        for name in names:
            serial = self.env["stock.lot"].create({"name": name, "product_id": self.product_bolt.id})
            self.env["stock.quant"]._update_available_quantity(self.product_bolt, self.stock_location, 1, lot_id=serial)
        production = self._make_mo(10)
        base = {"order": production.name, "material": "M8"}
        self.send("material.consumed", {**base, "qty": 1, "lot": "SN-1"})
        before = self.order_figures(production)
        for name in names[1:]:
            self.send("material.consumed", {**base, "qty": 1, "lot": name})
        _r, event = self.send("consumption.reversed", {**base, "qty": 2, "serials": ["SN-2", "SN-9"]})
        self.assert_refused(event, "wrong_lot", "SN-9")
        _r, event = self.send("consumption.reversed", {**base, "qty": 1, "serials": ["SN-2", "SN-3"]})
        self.assert_refused(event, "serial_count")
        _r, event = self.send("consumption.reversed", {**base, "qty": 2, "serials": ["SN-2", "SN-3"]})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(self.order_figures(production), before)

    def test_a_consumption_of_a_done_order_comes_back_to_stock(self):
        self.consumed(3)
        self.finish(self.mo1, 5)
        steel = self.steel_move()
        self.assertEqual((steel.state, steel.quantity), ("done", 3))
        stock_before = self.product_steel.with_context(location=self.stock_location.id).qty_available
        _r, event = self.send("consumption.reversed", {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 1})
        self.assertEqual(event.state, "applied", event.error_message)
        returned = self.env["stock.move"].search([("origin_returned_move_id", "=", steel.id)])
        self.assertEqual((returned.state, returned.quantity), ("done", 1))
        self.assertEqual((returned.location_id, returned.location_dest_id), (steel.location_dest_id, steel.location_id))
        self.assertIn(f"stock.move,{returned.id}", event.result_refs)
        self.assertEqual(
            self.product_steel.with_context(location=self.stock_location.id).qty_available, stock_before + 1
        )
        _r, event = self.send("consumption.reversed", {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 2.5})
        self.assert_refused(event, "more_than_consumed", "only 2")
        _r, event = self.send("consumption.reversed", {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 2})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(
            self.product_steel.with_context(location=self.stock_location.id).qty_available, stock_before + 3
        )

    def test_serials_must_be_a_list_of_texts(self):
        self.consumed(2)
        data = {"order": self.mo1.name, "material": "STEEL-2MM", "qty": 1, "serials": [3]}
        result, event = self.send("consumption.reversed", data)
        self.assertEqual(event.state, "rejected", event.error_message)
        self.assertIn("serials", event.error_message)
