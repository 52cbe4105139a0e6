from odoo import fields
from odoo.exceptions import AccessError, UserError

from .common import ShopfloorCase


class TestQualityHold(ShopfloorCase):
    def hold(self, minutes=1, **data):
        return self.ingest_one(self.make_event("quality.hold", data, time=self.at(minutes)))

    def complete(self, production, operation, minutes, qty=100):
        return self.ingest_one(
            self.make_event(
                "workorder.completed",
                {"order": production.name, "operation": operation, "qty_good": qty},
                time=self.at(minutes),
            )
        )

    def test_hold_blocks_completion_until_released_then_the_event_applies(self):
        result, _e = self.hold(order=self.mo1.name, reason_code="CRACK", hold_id="H-1")
        self.assertEqual(result["status"], "applied", result)
        hold = self.env["shopfloor.hold"].search([("hold_ref", "=", "H-1")])
        self.assertEqual((hold.state, hold.production_id, hold.reason_code), ("active", self.mo1, "CRACK"))
        self.assertEqual(hold.date_start, self.at(1))

        waiting, event = self.complete(self.mo1, "Cutting", 10)
        self.assertEqual(waiting["status"], "pending")
        self.assertEqual(event.error_class, "hold")
        self.assertIn("CRACK", event.error_message)
        cutting = self.workorder_of(self.mo1, "Cutting")
        self.assertNotEqual(cutting.state, "done")
        self.retry_due()
        self.assertEqual(event.state, "pending", "still held: the retry must not apply it")

        released, _e = self.ingest_one(
            self.make_event("quality.released", {"order": self.mo1.name, "hold_id": "H-1"}, time=self.at(20))
        )
        self.assertEqual(released["status"], "applied", released)
        self.assertEqual((hold.state, hold.date_release), ("released", self.at(20)))
        # The release made the waiting event due at once; the cron applies it.
        self.assertLessEqual(event.next_retry_at, fields.Datetime.now())
        self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(event.state, "applied")
        self.assertEqual(cutting.state, "done")
        self.assertEqual(cutting.date_finished, self.at(10))

    def test_ui_and_rpc_buttons_are_blocked_by_a_hold(self):
        self.hold(order=self.mo2.name, reason_code="CRACK")
        cutting = self.workorder_of(self.mo2, "Cutting")
        with self.assertRaisesRegex(UserError, "quality hold active"):
            cutting.button_start()
        with self.assertRaisesRegex(UserError, "Held by the floor"):
            cutting.button_finish()
        with self.assertRaisesRegex(UserError, "quality hold active"):
            self.mo2.button_mark_done()
        self.assertEqual(self.mo2.shopfloor_active_hold_count, 1)
        # The same refusal reaches an RPC caller: a plain MRP user calling the button.
        mrp_user = self.env["res.users"].create(
            {
                "name": "Operator",
                "login": "operator-hold",
                "groups_id": [(6, 0, [self.env.ref("mrp.group_mrp_user").id])],
            }
        )
        with self.assertRaisesRegex(UserError, "quality hold active"):
            cutting.with_user(mrp_user).button_start()
        self.env["shopfloor.hold"].search([("production_id", "=", self.mo2.id)]).action_release()
        cutting.button_start()
        self.assertEqual(cutting.state, "progress")

    def test_workcenter_hold_blocks_that_workcenter_only(self):
        result, _e = self.hold(workcenter="L1-ASSY", reason_code="LEAK")
        self.assertEqual(result["status"], "applied", result)
        with self.assertRaisesRegex(UserError, "quality hold active"):
            self.workorder_of(self.mo1, "Assembly").button_start()
        self.workorder_of(self.mo1, "Cutting").button_start()
        released, _e = self.ingest_one(self.make_event("quality.released", {"workcenter": "L1-ASSY"}, time=self.at(5)))
        self.assertEqual(released["status"], "applied", released)
        self.workorder_of(self.mo1, "Assembly").button_start()

    def test_workorder_hold_blocks_that_workorder_only(self):
        self.hold(order=self.mo1.name, operation="Assembly", reason_code="DIM")
        self.workorder_of(self.mo1, "Cutting").button_start()
        with self.assertRaises(UserError):
            self.workorder_of(self.mo1, "Assembly").button_start()

    def test_release_before_hold_waits(self):
        released, event = self.ingest_one(
            self.make_event("quality.released", {"order": self.mo1.name, "hold_id": "H-9"}, time=self.at(9))
        )
        self.assertEqual(released["status"], "pending")
        self.assertIn("No active hold", event.error_message)
        self.hold(minutes=2, order=self.mo1.name, hold_id="H-9")
        self.retry_due()
        self.assertEqual(event.state, "applied")
        self.assertEqual(self.env["shopfloor.hold"].search([("hold_ref", "=", "H-9")]).state, "released")

    def test_duplicate_hold_id_is_one_hold_and_bad_input_rejected(self):
        self.hold(order=self.mo1.name, hold_id="H-2")
        self.hold(minutes=2, order=self.mo1.name, hold_id="H-2")
        self.assertEqual(self.env["shopfloor.hold"].search_count([("hold_ref", "=", "H-2")]), 1)
        [result] = self.ingest(self.make_event("quality.hold", {"reason_code": "X"}, time=self.at(3)))
        self.assertEqual(result["status"], "rejected")

    def test_holds_are_isolated_per_company(self):
        self.hold(order=self.mo1.name, hold_id="H-C1")
        other = self.env["res.company"].create({"name": "Other plant"})
        outsider = self.env["res.users"].create(
            {
                "name": "Other plant manager",
                "login": "other-plant-manager",
                "company_id": other.id,
                "company_ids": [(6, 0, other.ids)],
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("shopfloor_bridge.shopfloor_bridge_group_manager").id,
                        ],
                    )
                ],
            }
        )
        self.assertEqual(self.env["shopfloor.hold"].search_count([("hold_ref", "=", "H-C1")]), 1)
        self.assertEqual(self.env["shopfloor.hold"].with_user(outsider).search_count([("hold_ref", "=", "H-C1")]), 0)

    def test_failed_check_holds_start_and_reports_of_that_order_only(self):
        self.ingest(
            self.make_event(
                "quality.result",
                {"order": self.mo1.name, "characteristic": "hardness", "pass": False, "value": 31, "low": 40},
                time=self.at(1),
            )
        )
        results = self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(2)),
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 5}, time=self.at(3)),
            self.make_event("workorder.started", {"order": self.mo2.name, "operation": "Cutting"}, time=self.at(4)),
        )
        self.assertEqual([r["status"] for r in results], ["pending", "pending", "applied"], results)
        self.assertIn("hardness = 31", results[0]["error"])
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        self.assertEqual(self.mo1.qty_producing, 0)
        self.ingest(self.make_event("quality.released", {"order": self.mo1.name}, time=self.at(5)))
        self.env["shopfloor.event"]._cron_retry()
        [log] = self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))
        self.assertEqual(log.date_start, self.at(2), "applied late, still at the floor's time")
        self.assertEqual(self.mo1.qty_producing, 5)

    def test_hold_on_an_earlier_workorder_makes_the_closing_completion_wait(self):
        data = {"order": self.mo1.name, "qty_good": 100}
        self.ingest(self.make_event("workorder.completed", {**data, "operation": "Cutting"}, time=self.at(1)))
        self.hold(minutes=2, order=self.mo1.name, operation="Cutting", hold_id="H-CUT")
        result, event = self.complete(self.mo1, "Assembly", 3)
        self.assertEqual(result["status"], "pending")
        self.assertEqual(event.error_class, "hold")
        self.assertNotEqual(self.workorder_of(self.mo1, "Assembly").state, "done")
        self.ingest(self.make_event("quality.released", {"order": self.mo1.name, "hold_id": "H-CUT"}, time=self.at(4)))
        self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(event.state, "applied")
        self.assertEqual((self.mo1.state, self.mo1.date_finished), ("done", self.at(3)))

    def test_only_managers_release_holds(self):
        self.hold(order=self.mo1.name, hold_id="H-ACL")
        hold = self.env["shopfloor.hold"].search([("hold_ref", "=", "H-ACL")])
        operator = self.env["res.users"].create(
            {
                "name": "Line operator",
                "login": "line-operator",
                "groups_id": [(6, 0, [self.env.ref("mrp.group_mrp_user").id])],
            }
        )
        self.assertEqual(hold.with_user(operator).reason, "Held by the floor")
        with self.assertRaises(AccessError):
            hold.with_user(operator).action_release()
        self.assertEqual(hold.state, "active")
