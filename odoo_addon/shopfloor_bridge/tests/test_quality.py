from .common import ShopfloorCase


class TestQualityEvents(ShopfloorCase):
    def test_passed_result_is_stored_with_its_limits(self):
        result, event = self.ingest_one(
            self.make_event(
                "quality.result",
                {
                    "order": self.mo1.name,
                    "operation": "Cutting",
                    "characteristic": "thickness",
                    "pass": True,
                    "value": 2.01,
                    "unit": "mm",
                    "low": 1.95,
                    "high": 2.05,
                },
                time=self.at(7),
            )
        )
        self.assertEqual(result["status"], "applied", result)
        record = self.env["shopfloor.quality.result"].search([("event_id", "=", event.id)])
        self.assertEqual(
            (record.characteristic, record.passed, record.value, record.unit, record.low, record.high),
            ("thickness", True, 2.01, "mm", 1.95, 2.05),
        )
        self.assertEqual(record.time, self.at(7))
        self.assertEqual(record.production_id, self.mo1)
        self.assertEqual(record.workorder_id, self.workorder_of(self.mo1, "Cutting"))
        self.assertEqual(record.workcenter_id, self.wc_press1)
        self.assertFalse(record.hold_id)
        self.assertFalse(self.env["shopfloor.hold"].search([("production_id", "=", self.mo1.id)]))

    def test_failed_result_holds_the_order(self):
        _r, event = self.ingest_one(
            self.make_event(
                "quality.result",
                {"order": self.mo1.name, "characteristic": "flatness", "pass": False, "value": 0.8, "high": 0.5},
                time=self.at(3),
            )
        )
        record = self.env["shopfloor.quality.result"].search([("event_id", "=", event.id)])
        hold = record.hold_id
        self.assertEqual(hold.state, "active")
        self.assertEqual(hold.production_id, self.mo1)
        self.assertEqual(hold.date_start, self.at(3))
        self.assertIn("flatness = 0.8", hold.reason)
        self.assertEqual(hold.quality_result_id, record)

    def test_failed_result_without_hold_when_company_says_so(self):
        self.company.shopfloor_hold_on_quality_fail = False
        _r, event = self.ingest_one(
            self.make_event(
                "quality.result", {"order": self.mo1.name, "characteristic": "x", "pass": False}, time=self.at(1)
            )
        )
        self.assertEqual(event.state, "applied")
        self.assertFalse(self.env["shopfloor.hold"].search([]))

    def test_result_without_order_is_kept_on_the_workcenter(self):
        result, event = self.ingest_one(
            self.make_event(
                "quality.result",
                {"characteristic": "temp", "pass": True, "value": -4.5},
                source="plant1/line2/press-02",
                time=self.at(1),
            )
        )
        self.assertEqual(result["status"], "applied", result)
        record = self.env["shopfloor.quality.result"].search([("event_id", "=", event.id)])
        self.assertEqual((record.workcenter_id, record.value, record.has_limits), (self.wc_press2, -4.5, False))

    def test_bad_quality_payloads_are_rejected(self):
        results = self.ingest(
            self.make_event("quality.result", {"characteristic": "x", "pass": "yes"}, time=self.at(1)),
            self.make_event("quality.result", {"pass": True}, time=self.at(2)),
            self.make_event("quality.result", {"characteristic": "x", "pass": True, "value": "2.0"}, time=self.at(3)),
        )
        self.assertEqual([r["status"] for r in results], ["rejected"] * 3, results)
        self.assertFalse(self.env["shopfloor.quality.result"].search([]))

    def test_duplicate_result_is_stored_once(self):
        event = self.make_event(
            "quality.result", {"order": self.mo1.name, "characteristic": "x", "pass": False}, time=self.at(1)
        )
        self.ingest(event)
        [again] = self.ingest(event)
        self.assertEqual(again["status"], "duplicate")
        self.assertEqual(self.env["shopfloor.quality.result"].search_count([("characteristic", "=", "x")]), 1)
        self.assertEqual(self.env["shopfloor.hold"].search_count([("production_id", "=", self.mo1.id)]), 1)

    def test_result_for_an_unknown_order_waits(self):
        result, event = self.ingest_one(
            self.make_event(
                "quality.result", {"order": "WH/MO/QA-LATER", "characteristic": "x", "pass": True}, time=self.at(1)
            )
        )
        self.assertEqual(result["status"], "pending")
        self.assertIn("WH/MO/QA-LATER", event.error_message)
        self.assertFalse(self.env["shopfloor.quality.result"].search([]))

    def test_failed_inspection_after_closing_is_stored_without_a_hold(self):
        self.mo2.qty_producing = 100
        self.mo2._set_qty_producing()
        self.mo2.with_context(skip_consumption=True, skip_backorder=True).button_mark_done()
        result, event = self.ingest_one(
            self.make_event(
                "quality.result", {"order": self.mo2.name, "characteristic": "final", "pass": False}, time=self.at(50)
            )
        )
        self.assertEqual(result["status"], "applied", result)
        record = self.env["shopfloor.quality.result"].search([("event_id", "=", event.id)])
        self.assertEqual((record.production_id, record.passed, record.hold_id.id), (self.mo2, False, False))
