from datetime import timedelta

from odoo import fields

from .common import ShopfloorCase


class TestDowntime(ShopfloorCase):
    def downtime(self, kind, minutes, source="plant1/line1/press-01", **data):
        return self.ingest_one(self.make_event(f"downtime.{kind}", data, source=source, time=self.at(minutes)))

    def test_breakdown_logs_the_mapped_loss_and_opens_maintenance(self):
        started, event = self.downtime("started", 10, reason_code="BRK", downtime_id="D-1")
        self.assertEqual(started["status"], "applied", started)
        [log] = self.time_logs(workcenter=self.wc_press1)
        self.assertEqual((log.loss_id, log.date_start, log.date_end), (self.loss_breakdown, self.at(10), False))
        self.assertEqual(log.shopfloor_downtime_ref, "D-1")
        self.assertEqual(self.wc_press1.working_state, "blocked")
        request = self.env["maintenance.request"].search([("equipment_id", "=", self.equipment_press1.id)])
        self.assertEqual(len(request), 1)
        self.assertEqual(request.schedule_date, self.at(10))
        self.assertEqual(request.request_date, self.at(10).date())
        self.assertEqual(request.maintenance_type, "corrective")
        self.assertIn(f"maintenance.request,{request.id}", event.result_refs)

        ended, _e = self.downtime("ended", 25, reason_code="BRK", downtime_id="D-1")
        self.assertEqual(ended["status"], "applied", ended)
        self.assertEqual(log.date_end, self.at(25))
        self.assertEqual(log.duration, 15.0)
        self.assertEqual(self.wc_press1.working_state, "normal")

    def test_downtime_stops_running_work_like_odoos_block(self):
        self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(0))
        )
        self.downtime("started", 30, reason_code="MAT")
        work = self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))
        self.assertEqual((work.date_start, work.date_end), (self.at(0), self.at(30)))
        self.assertFalse(
            self.env["maintenance.request"].search([("equipment_id", "=", self.equipment_press1.id)]),
            "MAT is not a breakdown",
        )

    def test_a_stop_during_running_work_ends_by_its_id(self):
        # The ingest benchmark's cycle: work running and reported, a material
        # stop with a floor id, its end, work resumed.
        wo = self.workorder_of(self.mo1, "Cutting")
        self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(0))
        )
        self.ingest(
            self.make_event(
                "production.reported", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 2}, time=self.at(1)
            )
        )
        started, _e = self.downtime("started", 2, reason_code="MAT", downtime_id="S-1")
        self.assertEqual(started["status"], "applied", started)
        ended, _e = self.downtime("ended", 3, reason_code="MAT", downtime_id="S-1")
        self.assertEqual(ended["status"], "applied", ended)
        resumed, _e = self.ingest_one(
            self.make_event("workorder.resumed", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(4))
        )
        self.assertEqual(resumed["status"], "applied", resumed)
        stop = self.time_logs(workcenter=self.wc_press1).filtered(lambda log: log.shopfloor_downtime_ref == "S-1")
        self.assertEqual((stop.date_start, stop.date_end), (self.at(2), self.at(3)))
        self.assertEqual(len(self.time_logs(workorder=wo).filtered(lambda log: not log.date_end)), 1)

    def test_duplicate_start_opens_one_downtime(self):
        self.downtime("started", 1, reason_code="SETUP", downtime_id="D-2")
        again, _e = self.downtime("started", 2, reason_code="SETUP", downtime_id="D-2")
        self.assertEqual(again["status"], "applied")
        self.assertEqual(len(self.time_logs(workcenter=self.wc_press1)), 1)

    def test_end_before_start_waits_then_the_retry_closes_it(self):
        ended, event = self.downtime("ended", 40, reason_code="BRK", downtime_id="D-3")
        self.assertEqual(ended["status"], "pending")
        self.assertIn("D-3", event.error_message)
        self.downtime("started", 20, reason_code="BRK", downtime_id="D-3")
        self.retry_due()
        self.assertEqual(event.state, "applied")
        [log] = self.time_logs(workcenter=self.wc_press1)
        self.assertEqual((log.date_start, log.date_end), (self.at(20), self.at(40)))

    def test_a_waiting_event_older_than_the_new_ones_is_left_to_its_retry_time(self):
        """It cannot have its predecessor among newer events: ingest does not apply it
        again on every call (that made each call slower as waiting events piled up)."""
        _ended, event = self.downtime("ended", 10, reason_code="BRK", downtime_id="D-9")
        self.assertEqual((event.state, event.attempts), ("pending", 1))
        event.next_retry_at = fields.Datetime.now() + timedelta(minutes=5)
        for minute in (20, 21, 22):
            result, _e = self.ingest_one(
                self.make_event("quality.result", {"characteristic": "bore", "pass": True}, time=self.at(minute))
            )
            self.assertEqual(result["status"], "applied", result)
        self.assertEqual((event.state, event.attempts), ("pending", 1))
        # A newer end arriving before its start still waits, and applies as soon as its start comes.
        _ended, later = self.downtime("ended", 40, reason_code="BRK", downtime_id="D-10")
        self.assertEqual(later.state, "pending")
        later.next_retry_at = fields.Datetime.now() + timedelta(minutes=5)
        self.downtime("started", 30, reason_code="BRK", downtime_id="D-10")
        self.assertEqual(later.state, "applied")
        # Once due, the retry applies the old one's outcome as before.
        event.next_retry_at = fields.Datetime.now()
        self.retry_due()
        self.assertEqual(event.attempts, 2)

    def test_end_and_start_in_one_batch_are_sorted_by_time(self):
        results = self.ingest(
            self.make_event("downtime.ended", {"reason_code": "BRK"}, time=self.at(50)),
            self.make_event("downtime.started", {"reason_code": "BRK"}, time=self.at(45)),
        )
        self.assertEqual([r["status"] for r in results], ["applied", "applied"], results)
        [log] = self.time_logs(workcenter=self.wc_press1)
        self.assertEqual((log.date_start, log.date_end), (self.at(45), self.at(50)))

    def test_unknown_reason_and_unmapped_source_are_dead(self):
        _r, event = self.downtime("started", 1, reason_code="ZZZ")
        self.assertEqual(event.state, "dead")
        self.assertIn("'ZZZ'", event.error_message)
        self.assertIn("reason mapping", event.error_message)
        _r, event = self.downtime("started", 2, source="plant9/nowhere", reason_code="BRK")
        self.assertEqual(event.state, "dead")
        self.assertIn("plant9/nowhere", event.error_message)
        self.assertFalse(self.time_logs(workcenter=self.wc_press1))

    def test_reason_by_loss_name_without_a_map(self):
        result, _e = self.downtime("started", 1, source="plant1/line2/press-02", reason_code="Process Defect")
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual(self.time_logs(workcenter=self.wc_press2).loss_id, self.env.ref("mrp.block_reason5"))

    def test_missing_reason_is_rejected(self):
        [result] = self.ingest(self.make_event("downtime.started", {"downtime_id": "D-4"}, time=self.at(1)))
        self.assertEqual(result["status"], "rejected")
        self.assertIn("reason_code", result["error"])

    def test_explicit_workcenter_by_code_and_unknown_workcenter(self):
        result, _e = self.downtime("started", 1, reason_code="BRK", workcenter="L2-ASSY")
        self.assertEqual(result["status"], "applied", result)
        self.assertEqual(self.time_logs(workcenter=self.wc_assembly2).date_start, self.at(1))
        self.assertFalse(self.time_logs(workcenter=self.wc_press1))
        _r, event = self.downtime("started", 2, reason_code="BRK", workcenter="L9-NOPE")
        self.assertEqual(event.state, "dead")
        self.assertIn("Unknown workcenter 'L9-NOPE'", event.error_message)
