from .common import ShopfloorCase


class TestSetupTeardown(ShopfloorCase):
    def test_setup_and_teardown_log_setup_time_on_the_workorder(self):
        cutting = self.workorder_of(self.mo1, "Cutting")
        data = {"order": self.mo1.name, "operation": "Cutting"}
        statuses = [
            r["status"]
            for r in self.ingest(
                self.make_event("setup.started", data, time=self.at(0)),
                self.make_event("setup.ended", data, time=self.at(12)),
                self.make_event("workorder.started", data, time=self.at(12)),
                self.make_event("workorder.completed", {**data, "qty_good": 100}, time=self.at(100)),
                self.make_event("teardown.started", data, time=self.at(100)),
                self.make_event("teardown.ended", data, time=self.at(105)),
            )
        ]
        self.assertEqual(statuses, ["applied"] * 6)
        logs = self.time_logs(workorder=cutting)
        self.assertEqual(
            [(log.shopfloor_kind, log.loss_id, log.date_start, log.date_end) for log in logs],
            [
                ("setup", self.loss_setup, self.at(0), self.at(12)),
                ("work", self.loss_productive, self.at(12), self.at(100)),
                ("teardown", self.loss_setup, self.at(100), self.at(105)),
            ],
        )
        self.assertEqual(cutting.state, "done")

    def test_setup_on_the_workcenter_without_order(self):
        result, _e = self.ingest_one(
            self.make_event("setup.started", {}, source="plant1/line2/assembly-02", time=self.at(3))
        )
        self.assertEqual(result["status"], "applied", result)
        [log] = self.time_logs(workcenter=self.wc_assembly2)
        self.assertEqual((log.loss_id, log.date_start, log.workorder_id.id), (self.loss_setup, self.at(3), False))
        again, _e = self.ingest_one(
            self.make_event("setup.started", {}, source="plant1/line2/assembly-02", time=self.at(4))
        )
        self.assertEqual(again["status"], "applied")
        self.assertEqual(len(self.time_logs(workcenter=self.wc_assembly2)), 1)

    def test_setup_end_before_start_waits(self):
        result, event = self.ingest_one(
            self.make_event("setup.ended", {"order": self.mo2.name, "operation": "Cutting"}, time=self.at(9))
        )
        self.assertEqual(result["status"], "pending")
        self.ingest(self.make_event("setup.started", {"order": self.mo2.name, "operation": "Cutting"}, time=self.at(1)))
        self.retry_due()
        self.assertEqual(event.state, "applied")
        [log] = self.time_logs(workorder=self.workorder_of(self.mo2, "Cutting"))
        self.assertEqual((log.date_start, log.date_end), (self.at(1), self.at(9)))

    def test_setup_with_unknown_order_waits_and_bad_order_type_is_rejected(self):
        result, _e = self.ingest_one(self.make_event("setup.started", {"order": "WH/MO/LATER"}, time=self.at(1)))
        self.assertEqual(result["status"], "pending")
        [bad] = self.ingest(self.make_event("setup.started", {"order": 42}, time=self.at(2)))
        self.assertEqual(bad["status"], "rejected")
