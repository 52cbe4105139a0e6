"""Who owns the count: the work center's counting source and the connection's policy for
floor events on orders closed by hand.

Events come in through ``ingest`` as the connection's integration user (the
sidecar); people act as a plain MRP user through the form (``Form``) and the
buttons Odoo's views call.
"""

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user

from .common import ShopfloorCase

INTEGRATION = "base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
MRP_USER = "base.group_user,mrp.group_mrp_user,stock.group_stock_user"


class CountOwnerCase(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sidecar = new_test_user(cls.env, "count-sidecar", groups=INTEGRATION)
        cls.connection.integration_user_ids = [(4, cls.sidecar.id)]
        cls.person = new_test_user(cls.env, "count-planner", groups=MRP_USER, name="Pat Planner")

    def send(self, type, data, minutes, source="plant1/line1/press-01"):
        """Ingest one event as the sidecar; returns (result, event)."""
        event = self.make_event(type, data, source=source, time=self.at(minutes))
        [result] = self.env["shopfloor.event"].with_user(self.sidecar).ingest([event])
        return result, self.env["shopfloor.event"].browse(result.get("event_id") or [])

    def report(self, production, qty_good, minutes, operation="Cutting", qty_scrap=0):
        data = {"order": production.name, "operation": operation, "qty_good": qty_good, "qty_scrap": qty_scrap}
        return self.send("production.reported", data, minutes)

    def complete(self, production, qty_good, minutes, operation="Cutting", qty_scrap=0):
        data = {"order": production.name, "operation": operation, "qty_good": qty_good, "qty_scrap": qty_scrap}
        return self.send("workorder.completed", data, minutes)

    def start(self, production, minutes, operation="Cutting"):
        return self.send("workorder.started", {"order": production.name, "operation": operation}, minutes)

    def as_person(self, records):
        return records.with_user(self.person)

    def assertApplied(self, result):
        self.assertEqual(result["status"], "applied", result)

    def close_by_hand(self, production, qty):
        """A person books ``qty`` on the order's form and marks it done."""
        form = Form(self.as_person(production))
        form.qty_producing = qty
        form.save()
        action = self.as_person(production).button_mark_done()
        self.assertIs(action, True, action)
        self.assertEqual(production.state, "done")


class TestMachineCounts(CountOwnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.wc_press1 | cls.wc_assembly1).shopfloor_count_source = "machine"

    def drive(self, production=None):
        production = production or self.mo1
        self.assertApplied(self.start(production, 1)[0])
        self.assertApplied(self.report(production, 10, 2)[0])
        return self.workorder_of(production, "Cutting")

    def assertMachineMessage(self, error, *parts):
        message = str(error.exception)
        for part in ("counts by machine", "Press 01", "Test plant MQTT (test-conn)", "Counting source", *parts):
            self.assertIn(part, message)

    def test_default_keeps_both_counting(self):
        workcenter = self.env["mrp.workcenter"].create({"name": "New cell"})
        self.assertEqual(workcenter.shopfloor_count_source, "both")

    def test_floor_events_mark_the_work_order_floor_driven(self):
        cutting = self.drive()
        self.assertTrue(cutting.shopfloor_floor_driven)
        self.assertEqual(cutting.shopfloor_floor_connection_id, self.connection)
        self.assertTrue(self.mo1.shopfloor_floor_driven)
        self.assertFalse(self.workorder_of(self.mo1, "Assembly").shopfloor_floor_driven)
        self.assertEqual(self.mo1.qty_producing, 10)
        # The order's form says who counts before anyone tries.
        self.assertEqual(
            self.mo1.shopfloor_count_owner_message,
            "Work center Press 01 counts by machine: the shop-floor connection Test plant MQTT (test-conn) "
            "reports this order's quantities and completions.",
        )
        self.assertFalse(self.mo2.shopfloor_count_owner_message)

    def test_form_edit_of_the_quantity_is_refused_with_the_reason(self):
        self.drive()
        form = Form(self.as_person(self.mo1))
        form.qty_producing = 50
        with self.assertRaises(UserError) as error:
            form.save()
        self.assertMachineMessage(error, "change the produced quantity of", self.mo1.name)
        self.assertEqual(self.mo1.qty_producing, 10)

    def test_rpc_writes_of_work_order_quantities_are_refused(self):
        cutting = self.drive()
        for values in ({"qty_producing": 40}, {"qty_produced": 40}):
            with self.subTest(values=values), self.assertRaises(UserError) as error:
                self.as_person(cutting).write(values)
            self.assertMachineMessage(error, "change the quantity of", f"work order Cutting of {self.mo1.name}")
        self.assertEqual((cutting.qty_producing, cutting.qty_produced), (10, 0))

    def test_manual_completions_are_refused(self):
        cutting = self.drive()
        calls = {
            "button_finish": lambda: self.as_person(cutting).button_finish(),
            "button_done": lambda: self.as_person(cutting).button_done(),
            "action_mark_as_done": lambda: self.as_person(cutting).action_mark_as_done(),
            "button_mark_done": lambda: self.as_person(self.mo1).button_mark_done(),
        }
        for name, call in calls.items():
            with self.subTest(name), self.assertRaises(UserError) as error:
                call()
            self.assertMachineMessage(error, "by hand")
        self.assertEqual(cutting.state, "progress")
        self.assertEqual(self.mo1.state, "progress")
        self.assertFalse(cutting.shopfloor_closed_by_id)

    def test_manual_start_that_would_fill_in_the_quantity_is_refused(self):
        self.assertApplied(self.start(self.mo1, 1)[0])
        self.assertApplied(self.send("workorder.paused", {"order": self.mo1.name, "operation": "Cutting"}, 2)[0])
        cutting = self.workorder_of(self.mo1, "Cutting")
        with self.assertRaises(UserError) as error:
            self.as_person(cutting).button_start()
        self.assertMachineMessage(error, "You cannot start")
        self.assertEqual(self.mo1.qty_producing, 0)

    def test_the_sidecar_is_never_refused(self):
        self.drive()
        self.assertApplied(self.report(self.mo1, 15, 3)[0])
        self.assertApplied(self.complete(self.mo1, 100, 4)[0])
        self.assertApplied(self.complete(self.mo1, 100, 5, operation="Assembly")[0])
        self.assertEqual(self.mo1.state, "done")
        self.assertEqual(self.mo1.qty_produced, 100)
        self.assertFalse(self.mo1.shopfloor_closed_by_id)
        self.assertFalse(self.mo1.workorder_ids.shopfloor_closed_by_id)

    def test_a_batch_from_the_sidecar_is_never_refused(self):
        data = {"order": self.mo1.name, "operation": "Cutting"}
        events = [
            self.make_event("workorder.started", data, time=self.at(1)),
            *(self.make_event("production.reported", {**data, "qty_good": 5}, time=self.at(2 + n)) for n in range(4)),
            self.make_event("workorder.completed", {**data, "qty_good": 20}, time=self.at(10)),
        ]
        results = self.env["shopfloor.event"].with_user(self.sidecar).ingest(events)
        self.assertEqual([r["status"] for r in results], ["applied"] * 6, results)
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").state, "done")

    def test_work_orders_without_floor_events_stay_manual(self):
        form = Form(self.as_person(self.mo2))
        form.qty_producing = 100
        form.save()
        self.assertEqual(self.mo2.qty_producing, 100)
        self.as_person(self.workorder_of(self.mo2, "Cutting")).button_finish()
        self.assertEqual(self.workorder_of(self.mo2, "Cutting").state, "done")

    def test_a_person_closes_the_order_once_the_machine_finished_its_work(self):
        self.company.shopfloor_close_mo_on_last_wo = False
        self.drive()
        self.assertApplied(self.complete(self.mo1, 100, 4)[0])
        self.assertApplied(self.complete(self.mo1, 100, 5, operation="Assembly")[0])
        self.assertEqual(self.mo1.state, "to_close")
        self.assertIs(self.as_person(self.mo1).button_mark_done(), True)
        self.assertEqual(self.mo1.state, "done")
        self.assertEqual(self.mo1.qty_produced, 100)
        self.assertEqual(self.mo1.shopfloor_closed_by_id, self.person)
        # The machine finished the work orders: they are not "closed by hand".
        self.assertFalse(self.mo1.workorder_ids.shopfloor_closed_by_id)

    def test_a_done_order_stays_open_to_odoos_own_correction(self):
        self.drive()
        self.assertApplied(self.complete(self.mo1, 100, 4)[0])
        self.assertApplied(self.complete(self.mo1, 100, 5, operation="Assembly")[0])
        self.assertEqual(self.mo1.state, "done")
        self.as_person(self.mo1).action_toggle_is_locked()
        self.as_person(self.mo1).write({"qty_producing": 98})
        finished = self.mo1.move_finished_ids.filtered(lambda m: m.product_id == self.product_bracket)
        self.assertEqual(finished.quantity, 98)

    def test_people_cannot_set_the_floor_fields(self):
        cutting = self.drive()
        for field_name, value in (("shopfloor_floor_driven", False), ("shopfloor_closed_by_id", self.person.id)):
            with self.subTest(field_name), self.assertRaises(AccessError) as error:
                self.as_person(cutting).write({field_name: value})
            self.assertIn(field_name, str(error.exception))
        self.assertTrue(cutting.shopfloor_floor_driven)


class TestBothCount(CountOwnerCase):
    def test_floor_and_person_add_up(self):
        """Today's behaviour, kept by default: each books what it reports."""
        self.assertEqual(self.wc_press1.shopfloor_count_source, "both")
        self.assertApplied(self.report(self.mo1, 10, 1)[0])
        form = Form(self.as_person(self.mo1))
        form.qty_producing = 30
        form.save()
        self.assertApplied(self.report(self.mo1, 5, 2)[0])
        self.assertEqual(self.mo1.qty_producing, 35)
        self.as_person(self.workorder_of(self.mo1, "Cutting")).button_finish()
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").state, "done")


class TestOperatorCounts(CountOwnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wc_press1.shopfloor_count_source = "operator"

    def test_reports_are_kept_as_information(self):
        result, event = self.report(self.mo1, 10, 1, qty_scrap=2)
        self.assertApplied(result)
        cutting = self.workorder_of(self.mo1, "Cutting")
        self.assertEqual(self.mo1.qty_producing, 0)
        self.assertEqual(cutting.shopfloor_floor_qty, 10)
        self.assertEqual(cutting.shopfloor_qty_scrap, 2)
        self.assertEqual(event.workorder_id, cutting)
        self.assertApplied(self.report(self.mo1, 4, 2)[0])
        self.assertEqual(cutting.shopfloor_floor_qty, 14)
        # The operator books the count, beside the floor's.
        form = Form(self.as_person(self.mo1))
        form.qty_producing = 12
        form.save()
        self.assertEqual(self.mo1.qty_producing, 12)
        self.assertEqual(cutting.shopfloor_floor_qty, 14)

    def test_completion_closes_the_time_logs_and_leaves_the_work_order_to_the_operator(self):
        self.assertApplied(self.start(self.mo1, 1)[0])
        cutting = self.workorder_of(self.mo1, "Cutting")
        [log] = self.time_logs(workorder=cutting)
        self.assertFalse(log.date_end)
        result, event = self.complete(self.mo1, 95, 30, qty_scrap=3)
        self.assertApplied(result)
        self.assertEqual(log.date_end, self.at(30))
        self.assertEqual(cutting.state, "progress")
        self.assertEqual((cutting.qty_produced, self.mo1.qty_producing), (0, 0))
        self.assertEqual((cutting.shopfloor_floor_qty, cutting.shopfloor_qty_scrap), (95, 3))
        self.assertIn("Operators count on Press 01", self.mo1.message_ids[0].body)
        self.assertIn(f"mrp.workcenter.productivity,{log.id}", event.result_refs)
        # The operator finishes it with the count they booked.
        form = Form(self.as_person(self.mo1))
        form.qty_producing = 94
        form.save()
        self.as_person(cutting).button_finish()
        self.assertEqual((cutting.state, cutting.qty_produced), ("done", 94))

    def test_scrap_is_not_booked(self):
        scraps_before = self.env["stock.scrap"].search_count([])
        result, _event = self.send("scrap.reported", {"order": self.mo1.name, "operation": "Cutting", "qty": 3}, 1)
        self.assertApplied(result)
        self.assertEqual(self.env["stock.scrap"].search_count([]), scraps_before)
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").shopfloor_qty_scrap, 3)

    def test_other_work_centers_keep_their_own_source(self):
        self.assertApplied(self.report(self.mo1, 10, 1, operation="Assembly")[0])
        self.assertEqual(self.mo1.qty_producing, 10)


class TestClosedByHand(CountOwnerCase):
    def test_person_close_is_recorded(self):
        self.close_by_hand(self.mo1, 100)
        self.assertEqual(self.mo1.shopfloor_closed_by_id, self.person)
        self.assertTrue(self.mo1.shopfloor_closed_on)
        self.assertEqual(self.mo1.workorder_ids.shopfloor_closed_by_id, self.person)

    def test_dead_letter_names_who_closed_it_and_when(self):
        self.assertEqual(self.connection.closed_order_policy, "dead_letter")
        self.close_by_hand(self.mo1, 100)
        for result, event in (self.report(self.mo1, 5, 1), self.start(self.mo1, 2)):
            self.assertEqual(result["status"], "failed", result)
            self.assertEqual((event.state, event.error_class), ("dead", "permanent"))
            closed = f"Manufacturing order {self.mo1.name} was closed by hand by Pat Planner on"
            self.assertIn(closed, event.error_message)
            self.assertIn(str(self.mo1.shopfloor_closed_on), event.error_message)
            self.assertIn("connection test-conn parks", event.error_message)
        self.assertEqual(self.mo1.qty_produced, 100)
        self.assertFalse(self.mo1.shopfloor_count_correction_ids)

    def test_setup_still_applies_to_an_order_closed_by_hand(self):
        """Setup and teardown accept a done order; the policy is for types that need an open one."""
        self.close_by_hand(self.mo1, 100)
        data = {"order": self.mo1.name, "operation": "Cutting"}
        self.assertApplied(self.send("setup.started", data, 1)[0])
        self.assertApplied(self.send("setup.ended", data, 2)[0])
        self.assertFalse(self.mo1.shopfloor_count_correction_ids)

    def test_dead_letter_for_a_work_order_finished_by_hand(self):
        self.as_person(self.workorder_of(self.mo1, "Cutting")).button_finish()
        result, event = self.report(self.mo1, 5, 1)
        self.assertEqual(event.state, "dead", result)
        self.assertIn(f"Work order Cutting of {self.mo1.name} was closed by hand by Pat Planner", event.error_message)

    def test_correction_records_the_floor_count_beside_the_booked_one(self):
        self.connection.closed_order_policy = "correction"
        self.mo1.user_id = self.person
        self.close_by_hand(self.mo1, 100)
        stock_before = self.product_bracket.with_context(location=self.stock_location.id).qty_available
        first, first_event = self.report(self.mo1, 5, 1)
        second, _e = self.report(self.mo1, 7, 2)
        self.assertApplied(first)
        self.assertApplied(second)
        rows = self.mo1.shopfloor_count_correction_ids.sorted("id")
        self.assertEqual(
            [(r.qty_good, r.floor_total, r.booked_qty, r.difference) for r in rows],
            [
                (5, 105, 100, 5),
                (7, 112, 100, 12),
            ],
        )
        self.assertEqual(rows[0].event_id, first_event)
        self.assertEqual(rows[0].closed_by_id, self.person)
        self.assertEqual(self.mo1.shopfloor_floor_difference, 12)
        self.assertIn(f"shopfloor.count.correction,{rows[0].id}", first_event.result_refs)
        self.assertEqual(first_event.production_id, self.mo1)
        # Nothing booked on the closed order.
        self.assertEqual(self.mo1.qty_produced, 100)
        self.assertEqual(self.product_bracket.with_context(location=self.stock_location.id).qty_available, stock_before)
        # One activity for the responsible, not one per report.
        activities = self.mo1.activity_ids.filtered(lambda a: a.summary == "Floor events after a manual close")
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, self.person)
        # A completion carries the floor's total; a start is recorded with no quantity.
        self.assertApplied(self.complete(self.mo1, 110, 3, operation="Assembly")[0])
        self.assertApplied(self.start(self.mo1, 4)[0])
        completion = self.mo1.shopfloor_count_correction_ids.filtered(lambda r: r.event_type == "workorder.completed")
        self.assertEqual((completion.floor_total, completion.difference), (110, 10))
        self.assertEqual(len(self.mo1.shopfloor_count_correction_ids), 4)

    def test_a_reviewed_correction_asks_again_for_the_next_one(self):
        self.connection.closed_order_policy = "correction"
        self.close_by_hand(self.mo1, 100)
        self.assertApplied(self.report(self.mo1, 5, 1)[0])
        manager = new_test_user(self.env, "count-manager", groups="base.group_user,mrp.group_mrp_manager")
        self.mo1.shopfloor_count_correction_ids.with_user(manager).action_mark_reviewed()
        self.assertEqual(self.mo1.shopfloor_count_correction_ids.reviewed_by_id, manager)
        with self.assertRaises(AccessError):
            self.as_person(self.mo1.shopfloor_count_correction_ids).write({"floor_total": 0})
        self.assertApplied(self.report(self.mo1, 5, 2)[0])
        activities = self.mo1.activity_ids.filtered(lambda a: a.summary == "Floor events after a manual close")
        self.assertEqual(len(activities), 2)

    def test_an_order_the_floor_closed_is_refused_as_before(self):
        self.connection.closed_order_policy = "correction"
        self.assertApplied(self.complete(self.mo1, 100, 1)[0])
        self.assertApplied(self.complete(self.mo1, 100, 2, operation="Assembly")[0])
        self.assertEqual(self.mo1.state, "done")
        result, event = self.report(self.mo1, 5, 3)
        self.assertEqual(event.state, "dead", result)
        self.assertIn("cannot be applied to a closed order", event.error_message)
        self.assertFalse(self.mo1.shopfloor_count_correction_ids)
