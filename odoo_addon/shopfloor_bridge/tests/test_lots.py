"""Lots and serials from the floor, through ``ingest``: finished lots and serials on
completions and reports, component lots and serials on consumptions, the
connection's lot policy, the refusals, the genealogy of a finished lot, and a
batch of lot events applying as one by one."""

from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import ShopfloorCase

PRESS = "plant1/line1/press-01"


class LotsCase(ShopfloorCase):
    """The plant plus lot-tracked cheese (from lot-tracked milk) and serial-tracked
    controllers (from serial-tracked sensors and bolts), one press operation each."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        product = env["product.product"]
        cls.milk = product.create(
            {"name": "Milk", "default_code": "RM-MILK", "is_storable": True, "tracking": "lot", "standard_price": 1}
        )
        cls.sensor = product.create(
            {"name": "Sensor", "default_code": "RM-SENSOR", "is_storable": True, "tracking": "serial"}
        )
        cls.cheese = product.create(
            {"name": "Cheese", "default_code": "FG-CHEESE", "is_storable": True, "tracking": "lot"}
        )
        cls.controller = product.create(
            {"name": "Controller", "default_code": "FG-CTRL", "is_storable": True, "tracking": "serial"}
        )
        operation = [(0, 0, {"name": "Press", "workcenter_id": cls.wc_press1.id, "time_mode": "manual",
                             "time_cycle_manual": 1.0})]  # fmt: skip
        cls.cheese_bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.cheese.product_tmpl_id.id,
                "consumption": "flexible",
                "bom_line_ids": [(0, 0, {"product_id": cls.milk.id, "product_qty": 1})],
                "operation_ids": operation,
            }
        )
        cls.controller_bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.controller.product_tmpl_id.id,
                "consumption": "flexible",
                "bom_line_ids": [
                    (0, 0, {"product_id": cls.sensor.id, "product_qty": 1}),
                    (0, 0, {"product_id": cls.product_bolt.id, "product_qty": 2}),
                ],
                "operation_ids": operation,
            }
        )
        lot_model = env["stock.lot"]
        quant = env["stock.quant"]
        cls.milk_a = lot_model.create({"name": "MILK-A", "product_id": cls.milk.id})
        cls.milk_b = lot_model.create({"name": "MILK-B", "product_id": cls.milk.id})
        quant._update_available_quantity(cls.milk, cls.stock_location, 100, lot_id=cls.milk_a)
        quant._update_available_quantity(cls.milk, cls.stock_location, 100, lot_id=cls.milk_b)
        cls.sensors = lot_model.create([{"name": f"S-{n}", "product_id": cls.sensor.id} for n in range(1, 9)])
        for lot in cls.sensors:
            quant._update_available_quantity(cls.sensor, cls.stock_location, 1, lot_id=lot)

    def make_order(self, product, bom, qty):
        production = self.env["mrp.production"].create({"product_id": product.id, "bom_id": bom.id, "product_qty": qty})
        production.action_confirm()
        production.action_assign()
        return production

    def send(self, type_, data, minute, **envelope):
        return self.ingest_one(self.make_event(type_, data, source=PRESS, time=self.at(minute), **envelope))

    def consume(self, production, material, qty, minute, **data):
        return self.send("material.consumed", {"order": production.name, "material": material, "qty": qty, **data},
                         minute)  # fmt: skip

    def complete(self, production, qty, minute, **data):
        return self.send("workorder.completed", {"order": production.name, "qty_good": qty, **data}, minute)

    def assert_applied(self, result, event):
        self.assertEqual(result["status"], "applied", (result, event.error_message))

    def assert_dead(self, result, event, *fragments):
        self.assertEqual(event.state, "dead", (result, event.error_message))
        for fragment in fragments:
            self.assertIn(fragment, event.error_message)

    @staticmethod
    def done_lines(moves):
        return sorted(
            (line.product_id.default_code, line.lot_id.name or "", line.quantity)
            for line in moves.move_line_ids
            if line.state == "done"
        )


@tagged("post_install", "-at_install")
class TestLots(LotsCase):
    # ------------------------------------------------------------------ lot-tracked finished product

    def test_a_lot_tracked_order_closes_with_the_floors_lot_and_component_lots(self):
        order = self.make_order(self.cheese, self.cheese_bom, 10)
        self.assert_applied(*self.consume(order, "RM-MILK", 6, 1, lot="MILK-A"))
        self.assert_applied(*self.consume(order, "RM-MILK", 4, 2, lot="MILK-B"))
        result, event = self.complete(order, 10, 3, lot="CH-0001")
        self.assert_applied(result, event)
        self.assertEqual(order.state, "done")
        self.assertEqual(order.lot_producing_id.name, "CH-0001")
        self.assertEqual(order.lot_producing_id.product_id, self.cheese)
        self.assertEqual(self.done_lines(order.move_finished_ids), [("FG-CHEESE", "CH-0001", 10.0)])
        self.assertEqual(self.done_lines(order.move_raw_ids), [("RM-MILK", "MILK-A", 6.0), ("RM-MILK", "MILK-B", 4.0)])
        self.assertEqual(order.lot_producing_id.product_qty, 10)
        self.assertEqual(self.milk_a.product_qty, 94)

    def test_a_report_sets_the_lot_and_an_existing_lot_of_the_product_is_reused(self):
        existing = self.env["stock.lot"].create({"name": "CH-0002", "product_id": self.cheese.id})
        order = self.make_order(self.cheese, self.cheese_bom, 5)
        self.assert_applied(
            *self.send("production.reported", {"order": order.name, "qty_good": 2, "lot": "CH-0002"}, 1)
        )
        self.assertEqual(order.lot_producing_id, existing)
        self.assert_applied(*self.consume(order, "RM-MILK", 5, 2, lot="MILK-A"))
        self.assert_applied(*self.complete(order, 5, 3))  # no lot on the completion: the order's is kept
        self.assertEqual(order.state, "done")
        self.assertEqual(self.done_lines(order.move_finished_ids), [("FG-CHEESE", "CH-0002", 5.0)])
        self.assertEqual(self.env["stock.lot"].search_count([("name", "=", "CH-0002")]), 1)

    def test_a_second_lot_on_an_order_already_producing_one_is_dead(self):
        order = self.make_order(self.cheese, self.cheese_bom, 5)
        self.assert_applied(*self.send("production.reported", {"order": order.name, "qty_good": 2, "lot": "CH-A"}, 1))
        result, event = self.send("production.reported", {"order": order.name, "qty_good": 1, "lot": "CH-B"}, 2)
        self.assert_dead(result, event, "already produces lot CH-A", "CH-B")
        self.assertEqual(order.qty_producing, 2)

    def test_odoo_lot_policy_generates_the_lot_as_odoos_button_does(self):
        self.connection.lot_policy = "odoo"
        order = self.make_order(self.cheese, self.cheese_bom, 4)
        sequence = self.env["ir.sequence"].search([("code", "=", "stock.lot.serial")], limit=1)
        expected = sequence.get_next_char(sequence.number_next_actual)
        self.assert_applied(*self.complete(order, 4, 1))
        self.assertEqual(order.state, "done")
        self.assertEqual(order.lot_producing_id.name, expected)
        self.assertEqual(self.done_lines(order.move_finished_ids), [("FG-CHEESE", expected, 4.0)])
        # The floor's lot still wins under the odoo policy.
        second = self.make_order(self.cheese, self.cheese_bom, 1)
        self.assert_applied(*self.complete(second, 1, 2, lot="CH-FLOOR"))
        self.assertEqual(second.lot_producing_id.name, "CH-FLOOR")

    def test_floor_lot_policy_without_a_lot_is_dead_and_leaves_the_order_open(self):
        order = self.make_order(self.cheese, self.cheese_bom, 3)
        result, event = self.complete(order, 3, 1)
        self.assert_dead(result, event, "no lot is known", "data.lot", "Odoo generates")
        self.assertEqual(order.state, "confirmed")
        self.assertFalse(order.workorder_ids.filtered(lambda wo: wo.state == "done"), "nothing half-applied")
        # Fixed by the floor's resend with its lot (a new event id), the order closes.
        self.assert_applied(*self.complete(order, 3, 2, lot="CH-LATE"))
        self.assertEqual(order.state, "done")

    def test_a_lot_on_an_untracked_product_is_dead_naming_the_product(self):
        result, event = self.send("production.reported", {"order": self.mo1.name, "qty_good": 1, "lot": "L-1"}, 1)
        self.assert_dead(result, event, "Bracket", "not tracked", "'L-1'")
        self.assertEqual(self.mo1.qty_producing, 0)
        result, event = self.consume(self.mo1, "RM-BOLT", 4, 2, serials=["B-1", "B-2", "B-3", "B-4"])
        self.assert_dead(result, event, "Bolt M8", "not tracked")

    def test_a_lot_of_another_product_is_dead_naming_its_product(self):
        order = self.make_order(self.cheese, self.cheese_bom, 2)
        result, event = self.complete(order, 2, 1, lot="MILK-A")
        self.assert_dead(result, event, "'MILK-A' is a lot of [RM-MILK] Milk")
        self.assertEqual(order.state, "confirmed")
        result, event = self.consume(order, "RM-MILK", 1, 2, lot="S-1")
        self.assert_dead(result, event, "'S-1' is a lot of [RM-SENSOR] Sensor")

    def test_serials_on_a_lot_tracked_product_are_dead(self):
        order = self.make_order(self.cheese, self.cheese_bom, 2)
        result, event = self.complete(order, 2, 1, serials=["X1", "X2"])
        self.assert_dead(result, event, "tracked by lot, not by serial")

    # ------------------------------------------------------------------ serial-tracked finished product

    def test_a_serial_order_of_three_closes_as_three_orders_one_serial_each(self):
        order = self.make_order(self.controller, self.controller_bom, 3)
        name = order.name
        self.assert_applied(*self.consume(order, "RM-SENSOR", 3, 1, serials=["S-1", "S-2", "S-3"]))
        result, event = self.complete(order, 3, 2, serials=["C-1", "C-2", "C-3"])
        self.assert_applied(result, event)
        family = order.procurement_group_id.mrp_production_ids.filtered(lambda mo: mo.product_id == self.controller)
        self.assertEqual(len(family), 3, family.mapped("name"))
        self.assertEqual(set(family.mapped("state")), {"done"})
        self.assertTrue(order.name.startswith(name), "Odoo's split names the orders after the original")
        self.assertEqual(sorted(family.lot_producing_id.mapped("name")), ["C-1", "C-2", "C-3"])
        for mo in family:
            self.assertEqual(self.done_lines(mo.move_finished_ids), [("FG-CTRL", mo.lot_producing_id.name, 1.0)])
            sensors = [line for line in self.done_lines(mo.move_raw_ids) if line[0] == "RM-SENSOR"]
            self.assertEqual(len(sensors), 1, "one serial component per serial product")
            self.assertEqual(sensors[0][2], 1.0)
            bolts = sum(line[2] for line in self.done_lines(mo.move_raw_ids) if line[0] == "RM-BOLT")
            self.assertEqual(bolts, 2.0)
        consumed = sorted(
            line[1] for mo in family for line in self.done_lines(mo.move_raw_ids) if line[0] == "RM-SENSOR"
        )
        self.assertEqual(consumed, ["S-1", "S-2", "S-3"])
        for mo in family:
            self.assertIn(f"mrp.production,{mo.id}", event.result_refs)
        self.assertEqual(
            sum(
                self.controller.stock_quant_ids.filtered(lambda q: q.location_id.usage == "internal").mapped("quantity")
            ),
            3,
        )

    def test_a_single_serial_closes_the_order_itself(self):
        order = self.make_order(self.controller, self.controller_bom, 1)
        self.assert_applied(*self.consume(order, "RM-SENSOR", 1, 1, lot="S-4"))  # a lone serial may come as lot
        self.assert_applied(*self.complete(order, 1, 2, serials=["C-10"]))
        self.assertEqual(order.state, "done")
        self.assertEqual(order.lot_producing_id.name, "C-10")
        self.assertIn(("RM-SENSOR", "S-4", 1.0), self.done_lines(order.move_raw_ids))

    def test_serial_count_not_matching_the_quantity_is_rejected(self):
        order = self.make_order(self.controller, self.controller_bom, 3)
        result, event = self.complete(order, 3, 1, serials=["C-20", "C-21"])
        self.assertEqual(event.state, "rejected", event.error_message)
        self.assertIn("2 serial(s) sent for 3 unit(s)", event.error_message)
        result, event = self.consume(order, "RM-SENSOR", 2, 2, serials=["S-5"])
        self.assertEqual(event.state, "rejected", event.error_message)
        self.assertIn("1 serial(s) sent for 2 unit(s)", event.error_message)
        self.assertEqual(order.state, "confirmed")

    def test_a_serial_twice_in_one_event_is_rejected_by_the_schema(self):
        order = self.make_order(self.controller, self.controller_bom, 2)
        result, event = self.complete(order, 2, 1, serials=["C-30", "C-30"])
        self.assertEqual(result["status"], "rejected")
        self.assertIn("serials", event.error_message)
        self.assertIn("non-unique", event.error_message)

    def test_a_serial_already_produced_or_in_stock_is_dead(self):
        first = self.make_order(self.controller, self.controller_bom, 1)
        self.assert_applied(*self.complete(first, 1, 1, serials=["C-40"]))
        second = self.make_order(self.controller, self.controller_bom, 1)
        result, event = self.complete(second, 1, 2, serials=["C-40"])
        self.assert_dead(result, event, "C-40 (already produced)")
        self.assertEqual(second.state, "confirmed")
        stocked = self.env["stock.lot"].create({"name": "C-41", "product_id": self.controller.id})
        self.env["stock.quant"]._update_available_quantity(self.controller, self.stock_location, 1, lot_id=stocked)
        result, event = self.complete(second, 1, 3, serials=["C-41"])
        self.assert_dead(result, event, "C-41 (in stock)")

    def test_a_component_serial_booked_twice_or_unknown_is_dead(self):
        order = self.make_order(self.controller, self.controller_bom, 2)
        self.assert_applied(*self.consume(order, "RM-SENSOR", 1, 1, serials=["S-6"]))
        result, event = self.consume(order, "RM-SENSOR", 1, 2, serials=["S-6"])
        self.assert_dead(result, event, "already consumed: S-6")
        result, event = self.consume(order, "RM-SENSOR", 1, 3, serials=["S-99"])
        self.assert_dead(result, event, "Unknown serial(s) of [RM-SENSOR] Sensor: S-99")

    def test_a_component_serial_consumed_by_a_closed_order_is_dead(self):
        first = self.make_order(self.controller, self.controller_bom, 1)
        self.assert_applied(*self.consume(first, "RM-SENSOR", 1, 1, serials=["S-5"]))
        self.assert_applied(*self.complete(first, 1, 2, serials=["C-60"]))
        second = self.make_order(self.controller, self.controller_bom, 1)
        result, event = self.consume(second, "RM-SENSOR", 1, 3, serials=["S-5"])
        self.assert_dead(result, event, "S-5", "has already been consumed")
        sensors = second.move_raw_ids.filtered(lambda move: move.product_id == self.sensor)
        self.assertNotIn("S-5", sensors.move_line_ids.lot_id.mapped("name"), "nothing half-applied")

    def test_odoo_policy_generates_the_serial_of_a_single_unit_order(self):
        self.connection.lot_policy = "odoo"
        order = self.make_order(self.controller, self.controller_bom, 1)
        self.assert_applied(*self.complete(order, 1, 1))
        self.assertEqual(order.state, "done")
        self.assertTrue(order.lot_producing_id)
        self.assertEqual(self.done_lines(order.move_finished_ids), [("FG-CTRL", order.lot_producing_id.name, 1.0)])

    def test_odoo_policy_generates_a_series_of_serials_for_several_units(self):
        self.connection.lot_policy = "odoo"
        self.env["stock.lot"].create({"name": "CT-0007", "product_id": self.controller.id})
        order = self.make_order(self.controller, self.controller_bom, 3)
        self.assert_applied(*self.consume(order, "RM-SENSOR", 3, 1, serials=["S-1", "S-2", "S-3"]))
        self.assert_applied(*self.complete(order, 3, 2))
        family = order.procurement_group_id.mrp_production_ids.filtered(lambda mo: mo.product_id == self.controller)
        self.assertEqual(set(family.mapped("state")), {"done"})
        self.assertEqual(len(family.lot_producing_id), 3)
        names = sorted(family.lot_producing_id.mapped("name"))
        first = names[0]
        # Odoo's series: consecutive numbers from the first name it gives.
        self.assertEqual(names, [lot["lot_name"] for lot in self.env["stock.lot"].generate_lot_names(first, 3)])

    def test_floor_policy_refuses_several_serial_units_without_serials(self):
        order = self.make_order(self.controller, self.controller_bom, 2)
        result, event = self.complete(order, 2, 1)
        self.assert_dead(result, event, "makes 2 serial-tracked", "one serial per unit")
        self.assertEqual(order.state, "confirmed")

    # ------------------------------------------------------------------ connection form

    def test_odoo_policy_needs_the_lot_sequence(self):
        self.env["ir.sequence"].search([("code", "=", "stock.lot.serial")]).code = "renamed"
        with self.assertRaisesRegex(ValidationError, "stock.lot.serial"):
            self.connection.lot_policy = "odoo"

    # ------------------------------------------------------------------ genealogy

    def test_genealogy_from_a_finished_lot_to_component_lots_and_events(self):
        order = self.make_order(self.cheese, self.cheese_bom, 10)
        _r, milk_event = self.consume(order, "RM-MILK", 10, 1, lot="MILK-B")
        _r, done_event = self.complete(order, 10, 2, lot="CH-GEN")
        lot = order.lot_producing_id
        components = self.env["stock.move.line"].search(lot.action_shopfloor_genealogy()["domain"])
        self.assertEqual([(line.lot_id, line.quantity) for line in components], [(self.milk_b, 10.0)])
        events = self.env["shopfloor.event"].search(lot.action_shopfloor_events()["domain"])
        self.assertEqual(events, milk_event | done_event)
        self.assertEqual(lot.shopfloor_event_count, 2)
        # A serial of a split order leads to the events booked on the order it came from.
        controllers = self.make_order(self.controller, self.controller_bom, 2)
        self.consume(controllers, "RM-SENSOR", 2, 3, serials=["S-7", "S-8"])
        _r, serial_done = self.complete(controllers, 2, 4, serials=["C-50", "C-51"])
        serial = self.env["stock.lot"].search([("name", "=", "C-51")])
        self.assertIn(serial_done, self.env["shopfloor.event"].search(serial.action_shopfloor_events()["domain"]))
        sensor_lines = self.env["stock.move.line"].search(serial.action_shopfloor_genealogy()["domain"])
        self.assertEqual(len(sensor_lines.filtered(lambda line: line.product_id == self.sensor)), 1)


@tagged("post_install", "-at_install")
class TestLotsBatched(LotsCase):
    """The same lot events in one ingest call as one by one (``TestBatchedApply``'s comparison)."""

    def lot_day(self, production, offset, tag):
        def event(minute, type_, data):
            return self.make_event(type_, {"order": production.name, **data}, source=PRESS,
                                   time=self.at(minute) + offset, id=f"{tag}-{minute}")  # fmt: skip

        return [
            event(1, "workorder.started", {}),
            event(2, "production.reported", {"qty_good": 3, "lot": f"CH-{tag}"}),
            event(3, "material.consumed", {"material": "RM-MILK", "qty": 2, "lot": "MILK-A"}),
            event(4, "production.reported", {"qty_good": 2}),
            event(5, "material.consumed", {"material": "RM-MILK", "qty": 3, "lot": "MILK-B"}),
            event(6, "material.consumed", {"material": "RM-MILK", "qty": 1, "lot": "MILK-A"}),
            event(7, "production.reported", {"qty_good": 1, "lot": "MILK-A"}),  # another product's lot: dead
            event(8, "workorder.completed", {"qty_good": 6}),
        ]

    def snapshot(self, production, results):
        return {
            "statuses": [(result["status"], result["error"].replace(production.name, "MO")) for result in results],
            "state": production.state,
            "qty": production.qty_produced,
            "lot": production.lot_producing_id.name.split("-")[0],
            "finished": [line[2] for line in self.done_lines(production.move_finished_ids)],
            "raw": self.done_lines(production.move_raw_ids),
        }

    def test_a_batch_of_lot_events_applies_as_one_by_one(self):
        first = self.make_order(self.cheese, self.cheese_bom, 6)
        second = self.make_order(self.cheese, self.cheese_bom, 6)
        batch = self.ingest(*self.lot_day(first, timedelta(), "batch"))
        single = []
        for event in self.lot_day(second, timedelta(hours=2), "single"):
            single += self.ingest(event)
        batched, reference = self.snapshot(first, batch), self.snapshot(second, single)
        self.assertEqual(batched, reference)
        self.assertEqual(batched["state"], "done")
        self.assertEqual(batched["raw"], [("RM-MILK", "MILK-A", 3.0), ("RM-MILK", "MILK-B", 3.0)])
        self.assertEqual([status for status, _e in batched["statuses"]].count("failed"), 1, batched["statuses"])

    def serial_day(self, production, offset, tag, sensors):
        def event(minute, type_, data):
            return self.make_event(
                type_,
                {"order": production.name, **data},
                source=PRESS,
                time=self.at(minute) + offset,
                id=f"{tag}-serial-{minute}",
            )

        return [
            event(1, "workorder.started", {}),
            event(2, "material.consumed", {"material": "RM-SENSOR", "qty": 2, "serials": sensors}),
            event(3, "production.reported", {"qty_good": 1, "serials": [f"{tag}-C1"]}),
            event(4, "material.consumed", {"material": "RM-BOLT", "qty": 4}),
            event(5, "workorder.completed", {"qty_good": 2, "serials": [f"{tag}-C1", f"{tag}-C2"]}),
        ]

    def serial_snapshot(self, production, results, tag):
        family = production.procurement_group_id.mrp_production_ids.filtered(
            lambda mo: mo.product_id == self.controller
        )
        return {
            "statuses": [result["status"] for result in results],
            "states": sorted(family.mapped("state")),
            "serials": sorted(name.replace(tag, "T") for name in family.lot_producing_id.mapped("name")),
            "raw": sorted((line[0], line[2]) for mo in family for line in self.done_lines(mo.move_raw_ids)),
            "sensors per order": sorted(
                len([line for line in self.done_lines(mo.move_raw_ids) if line[0] == "RM-SENSOR"]) for mo in family
            ),
        }

    def test_a_batch_of_serial_events_applies_as_one_by_one(self):
        first = self.make_order(self.controller, self.controller_bom, 2)
        second = self.make_order(self.controller, self.controller_bom, 2)
        batch = self.ingest(*self.serial_day(first, timedelta(), "B", ["S-1", "S-2"]))
        single = []
        for event in self.serial_day(second, timedelta(hours=2), "U", ["S-3", "S-4"]):
            single += self.ingest(event)
        batched = self.serial_snapshot(first, batch, "B")
        self.assertEqual(batched, self.serial_snapshot(second, single, "U"))
        self.assertEqual(batched["states"], ["done", "done"])
        self.assertEqual(batched["serials"], ["T-C1", "T-C2"])
        self.assertEqual(batched["sensors per order"], [1, 1])
        self.assertEqual(set(batched["statuses"]), {"applied"})
