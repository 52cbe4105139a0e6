from .common import ShopfloorCase


class TestProductionReported(ShopfloorCase):
    def report(self, production, qty_good, minutes, **data):
        return self.ingest_one(
            self.make_event(
                "production.reported",
                {"order": production.name, "qty_good": qty_good, **data},
                time=self.at(minutes),
            )
        )

    def test_reports_add_up_on_the_producing_quantity(self):
        first, _e = self.report(self.mo1, 10, 5, operation="Cutting", qty_scrap=1)
        second, event = self.report(self.mo1, 15, 6, operation="Cutting")
        self.assertEqual((first["status"], second["status"]), ("applied", "applied"), (first, second))
        self.assertEqual(self.mo1.qty_producing, 25)
        # Odoo's cascade ran: components follow the BOM for 25 units.
        steel = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_steel)
        bolts = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt)
        self.assertEqual((steel.quantity, bolts.quantity), (12.5, 100))
        self.assertTrue(steel.picked and bolts.picked)
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").shopfloor_qty_scrap, 1)
        self.assertEqual(event.production_id, self.mo1)

    def test_duplicate_report_counts_once(self):
        event = self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 10}, time=self.at(1))
        self.ingest(event)
        [again] = self.ingest(event)
        self.assertEqual(again["status"], "duplicate")
        self.assertEqual(self.mo1.qty_producing, 10)

    def test_quantity_in_another_unit_is_converted(self):
        dozen = self.env.ref("uom.product_uom_dozen")
        result, _e = self.report(self.mo1, 2, 1, uom=dozen.name)
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual(self.mo1.qty_producing, 24)

    def test_unit_of_another_category_is_dead(self):
        result, event = self.report(self.mo1, 2, 1, uom="KG")
        self.assertEqual(event.state, "dead")
        self.assertIn("cannot be converted", event.error_message)
        self.assertEqual(self.mo1.qty_producing, 0)

    def test_unknown_unit_names_what_to_map(self):
        _result, event = self.report(self.mo1, 2, 1, uom="BOXES")
        self.assertEqual(event.state, "dead")
        self.assertIn("'BOXES'", event.error_message)
        self.assertIn("unit mapping", event.error_message)

    def test_negative_and_textual_quantities_are_rejected(self):
        results = self.ingest(
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": -3}, time=self.at(1)),
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": "3"}, time=self.at(2)),
            self.make_event("production.reported", {"qty_good": 3}, time=self.at(3)),
        )
        self.assertEqual([r["status"] for r in results], ["rejected"] * 3, results)
        self.assertEqual(self.mo1.qty_producing, 0)

    def test_many_small_reports_keep_one_line_per_component(self):
        # Each booked increase used to add a move line that every later report rewrote.
        events = [
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 1}, time=self.at(i))
            for i in range(12)
        ]
        self.assertEqual({r["status"] for r in self.ingest(*events)}, {"applied"})
        self.assertEqual(self.mo1.qty_producing, 12)
        for move in self.mo1.move_raw_ids:
            self.assertEqual(len(move.move_line_ids), 1, move.product_id.display_name)
            self.assertAlmostEqual(move.quantity, 12 * move.unit_factor)
