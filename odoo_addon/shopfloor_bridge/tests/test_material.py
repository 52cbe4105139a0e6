from .common import ShopfloorCase


class TestMaterialConsumed(ShopfloorCase):
    def consume(self, material, qty, minutes=1, **data):
        return self.ingest_one(
            self.make_event(
                "material.consumed",
                {"order": self.mo1.name, "material": material, "qty": qty, **data},
                time=self.at(minutes),
            )
        )

    def steel_move(self):
        return self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_steel)

    def test_actual_consumption_is_booked_and_survives_the_producing_cascade(self):
        result, event = self.consume("STEEL-2MM", 30.0, uom="KG")
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual(self.steel_move().quantity, 30.0)
        self.assertTrue(self.steel_move().picked)
        self.assertIn(f"stock.move,{self.steel_move().id}", event.result_refs)
        # Second consumption of the same material adds up.
        self.consume("STEEL-2MM", 2500, minutes=2, uom="g")
        self.assertEqual(self.steel_move().quantity, 32.5)
        # Producing 100 units (BOM says 50 kg) keeps the floor's 32.5 kg.
        self.ingest(self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 100}, time=self.at(3)))
        self.assertEqual(self.mo1.qty_producing, 100)
        self.assertEqual(self.steel_move().quantity, 32.5)

    def test_default_code_works_without_a_map(self):
        result, _e = self.consume("RM-BOLT", 7)
        self.assertEqual(result["status"], "applied", result)
        bolts = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt)
        self.assertEqual(bolts.quantity, 7)

    def test_unknown_material_is_dead_naming_the_mapping(self):
        result, event = self.consume("ALU-3MM", 1)
        self.assertEqual(result["status"], "failed")
        self.assertEqual(event.state, "dead")
        self.assertIn("'ALU-3MM'", event.error_message)
        self.assertIn("material mapping", event.error_message)

    def test_material_not_on_the_order_is_dead(self):
        _result, event = self.consume("FG-BRACKET", 1)
        self.assertEqual(event.state, "dead")
        self.assertIn("not an open component", event.error_message)

    def test_lot_is_booked_on_the_move_line(self):
        lot_steel = self.env["product.product"].create(
            {"name": "Coil", "default_code": "RM-COIL", "is_storable": True, "tracking": "lot"}
        )
        lot = self.env["stock.lot"].create({"name": "COIL-001", "product_id": lot_steel.id})
        self.env["stock.quant"]._update_available_quantity(lot_steel, self.stock_location, 10, lot_id=lot)
        self.env["stock.move"].create(
            {
                "name": "coil",
                "product_id": lot_steel.id,
                "product_uom_qty": 5,
                "product_uom": lot_steel.uom_id.id,
                "raw_material_production_id": self.mo1.id,
                "location_id": self.mo1.location_src_id.id,
                "location_dest_id": self.mo1.production_location_id.id,
            }
        )._action_confirm()
        result, _e = self.consume("RM-COIL", 4, lot="COIL-001")
        self.assertEqual(result["status"], "applied", result)
        move = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == lot_steel)
        self.assertEqual(move.move_line_ids.mapped(lambda ml: (ml.lot_id.name, ml.quantity)), [("COIL-001", 4)])
        _result, event = self.consume("RM-COIL", 1, minutes=2, lot="COIL-404")
        self.assertEqual(event.state, "dead")
        self.assertIn("COIL-404", event.error_message)

    def test_missing_material_is_rejected(self):
        [result] = self.ingest(
            self.make_event("material.consumed", {"order": self.mo1.name, "qty": 3}, time=self.at(1))
        )
        self.assertEqual(result["status"], "rejected")
        self.assertIn("material", result["error"])

    def test_duplicate_consumption_counts_once(self):
        event = self.make_event(
            "material.consumed", {"order": self.mo1.name, "material": "M8", "qty": 9}, time=self.at(1)
        )
        self.ingest(event)
        [again] = self.ingest(event)
        self.assertEqual(again["status"], "duplicate")
        bolts = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt)
        self.assertEqual(bolts.quantity, 9)
