from .common import ShopfloorCase


class TestScrapReported(ShopfloorCase):
    def test_component_scrap_is_validated_on_the_order_at_event_time(self):
        result, event = self.ingest_one(
            self.make_event(
                "scrap.reported",
                {
                    "order": self.mo1.name,
                    "operation": "Cutting",
                    "material": "STEEL-2MM",
                    "qty": 1500,
                    "uom": "g",
                    "reason_code": "BURR",
                },
                time=self.at(12),
            )
        )
        self.assertEqual(result["status"], "applied", result)
        scrap = self.env["stock.scrap"].search([("production_id", "=", self.mo1.id)])
        self.assertEqual(len(scrap), 1)
        self.assertEqual(scrap.state, "done")
        self.assertEqual(scrap.product_id, self.product_steel)
        self.assertEqual((scrap.scrap_qty, scrap.product_uom_id), (1.5, self.uom_kg))
        self.assertEqual(scrap.workorder_id, self.workorder_of(self.mo1, "Cutting"))
        self.assertEqual(scrap.date_done, self.at(12))
        self.assertEqual(scrap.move_ids.date, self.at(12))
        self.assertEqual(scrap.move_ids.state, "done")
        self.assertIn("BURR", scrap.origin)
        self.assertIn(f"stock.scrap,{scrap.id}", event.result_refs)
        self.assertEqual(self.product_steel.with_context(location=self.stock_location.id).qty_available, 498.5)

    def test_a_reason_code_tags_the_scrap_with_the_reason_of_that_name(self):
        dent, edge = self.env["stock.scrap.reason.tag"].create([{"name": "Dent"}, {"name": "EDGEXBURR"}])

        def scrap(minute, reason):
            data = {"order": self.mo1.name, "operation": "Cutting", "qty": 1, "reason_code": reason}
            return self.make_event("scrap.reported", data, time=self.at(minute))

        codes = ["DENT", "edgexburr", "dent", "EDGE_BURR", "Dent%", "CRACK"]
        with self.recorded_sql() as statements:
            results = self.ingest(*[scrap(minute, code) for minute, code in enumerate(codes, 1)])
        self.assertEqual([result["status"] for result in results], ["applied"] * len(codes), results)
        scraps = self.env["stock.scrap"].search([("production_id", "=", self.mo1.id)], order="id")
        nothing = dent.browse()
        # The name whatever its case; "_" and "%" in a code are characters, not wildcards.
        self.assertEqual([one.scrap_reason_tag_ids for one in scraps], [dent, edge, dent, nothing, nothing, nothing])
        # A batch asks for each name once (whatever its case).
        lookups = [sql for sql in statements if 'FROM "stock_scrap_reason_tag"' in sql]
        self.assertEqual(len(lookups), 5, "dent, edgexburr, edge_burr, dent% and crack")

    def test_scrap_beyond_stock_is_still_booked(self):
        # The parts are gone on the floor: no insufficient-stock wizard to answer.
        result, _e = self.ingest_one(
            self.make_event("scrap.reported", {"material": "M8", "qty": 2500}, time=self.at(1))
        )
        self.assertEqual(result["status"], "applied", result)
        scrap = self.env["stock.scrap"].search([("product_id", "=", self.product_bolt.id)])
        self.assertEqual((scrap.state, scrap.scrap_qty), ("done", 2500))

    def test_without_material_scraps_the_finished_product(self):
        result, _e = self.ingest_one(
            self.make_event("scrap.reported", {"order": self.mo2.name, "qty": 3}, time=self.at(1))
        )
        self.assertEqual(result["status"], "applied", result)
        scrap = self.env["stock.scrap"].search([("production_id", "=", self.mo2.id)])
        self.assertEqual((scrap.product_id, scrap.scrap_qty), (self.product_bracket, 3))

    def test_duplicate_is_one_scrap(self):
        event = self.make_event("scrap.reported", {"order": self.mo1.name, "material": "M8", "qty": 4}, time=self.at(1))
        self.ingest(event)
        [again] = self.ingest(event)
        self.assertEqual(again["status"], "duplicate")
        self.assertEqual(self.env["stock.scrap"].search_count([("production_id", "=", self.mo1.id)]), 1)

    def test_nothing_to_scrap_and_bad_input(self):
        _r, event = self.ingest_one(self.make_event("scrap.reported", {"qty": 3}, time=self.at(1)))
        self.assertEqual(event.state, "dead")
        self.assertIn("data.material or data.order", event.error_message)
        results = self.ingest(
            self.make_event("scrap.reported", {"material": "M8", "qty": 0}, time=self.at(2)),
            self.make_event("scrap.reported", {"material": "M8"}, time=self.at(3)),
        )
        self.assertEqual([r["status"] for r in results], ["rejected", "rejected"], results)
        self.assertFalse(self.env["stock.scrap"].search([("product_id", "=", self.product_bolt.id)]))

    def test_finished_goods_scrapped_after_the_order_closed(self):
        self.mo2.qty_producing = 100
        self.mo2._set_qty_producing()
        self.mo2.with_context(skip_consumption=True, skip_backorder=True).button_mark_done()
        self.assertEqual(self.mo2.state, "done")
        result, _e = self.ingest_one(
            self.make_event("scrap.reported", {"order": self.mo2.name, "qty": 2}, time=self.at(30))
        )
        self.assertEqual(result["status"], "applied", result)
        scrap = self.env["stock.scrap"].search([("production_id", "=", self.mo2.id)])
        self.assertEqual((scrap.product_id, scrap.scrap_qty, scrap.state), (self.product_bracket, 2, "done"))
        self.assertEqual(scrap.location_id, self.mo2.location_dest_id)

    def test_scrap_on_a_cancelled_order_is_dead(self):
        self.mo2.action_cancel()
        _r, event = self.ingest_one(
            self.make_event("scrap.reported", {"order": self.mo2.name, "qty": 2}, time=self.at(30))
        )
        self.assertEqual(event.state, "dead")
        self.assertIn("cancel", event.error_message)
