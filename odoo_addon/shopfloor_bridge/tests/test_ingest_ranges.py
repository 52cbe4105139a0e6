"""Values out of range get their own outcome — rejected with the reason, or
stored and flagged — and never fail the batch they came in."""

from datetime import timedelta

from odoo.tests import tagged

from .common import ShopfloorCase

INT4_MAX = 2**31 - 1


@tagged("post_install", "-at_install")
class TestIngestRanges(ShopfloorCase):
    # ------------------------------------------------------------------ the cases

    def started(self, production=None, **envelope):
        production = production or self._make_mo(1)
        return self.make_event("workorder.started", {"order": production.name, "operation": "Cutting"}, **envelope)

    def reported(self, qty_good, **data):
        return self.make_event("production.reported", {"order": self.mo1.name, "qty_good": qty_good, **data})

    def skew_beyond_int4(self):
        time = self.at(0)
        return self.started(time=time, observedtime=self.iso(time + timedelta(days=30)))

    def skew_beyond_int4_backwards(self):
        time = self.at(0)
        return self.started(time=time, observedtime=self.iso(time - timedelta(days=400)))

    def plc_clock_reset(self):
        return self.started(time="2000-01-01T00:00:00Z", observedtime=self.iso(self.at(0)))

    def cases(self):
        """name → (item, status, reason in the error or the note)."""
        return {
            "skew +30 days": (self.skew_beyond_int4(), "applied", "off by 30.0 days"),
            "skew -400 days": (self.skew_beyond_int4_backwards(), "applied", "off by -400.0 days"),
            "PLC clock reset to 2000": (self.plc_clock_reset(), "applied", ""),
            "qty 1e308": (self.reported(1e308), "rejected", "1e+308 is greater than the maximum of 1000000000"),
            "qty NaN": (self.reported(float("nan")), "rejected", "$.data.qty_good is nan: JSON has no NaN"),
            "qty Infinity": (self.reported(float("inf")), "rejected", "$.data.qty_good is inf"),
            "qty -Infinity": (self.reported(5, qty_scrap=float("-inf")), "rejected", "$.data.qty_scrap is -inf"),
            "qty negative": (self.reported(-3), "rejected", "-3 is less than the minimum of 0"),
            "scrap qty zero": (
                self.make_event("scrap.reported", {"qty": 0, "order": self.mo1.name}),
                "rejected",
                "less than or equal to the minimum of 0",
            ),
            "qty past 2^53": (
                self.reported(2**53 + 1),
                "rejected",
                "9007199254740993 is greater than the maximum of 1000000000",
            ),
            "measured value past 2^53": (
                self.make_event("quality.result", {"characteristic": "width", "pass": True, "value": 2**53 + 1}),
                "rejected",
                "greater than the maximum of 1000000000000000",
            ),
            "extension integer past 2^53": (
                self.make_event("workorder.started", {"order": self._make_mo(1).name, "counter": 2**64}),
                "applied",
                "Integers beyond 2^53 at $.data.counter",
            ),
            "mappingrev past int4": (
                self.started(mappingrev=2**40),
                "rejected",
                "greater than the maximum of 2147483647",
            ),
            "year 0001": (self.started(time="0001-01-01T00:00:00Z"), "rejected", "outside the years 1970-2099"),
            "year 9999": (self.started(time="9999-12-31T23:59:59.999Z"), "rejected", "outside the years 1970-2099"),
            "year 0000": (self.started(time="0000-01-01T00:00:00Z"), "rejected", "outside the years 1970-2099"),
            "year 0001 east of UTC": (
                self.started(time="0001-01-01T00:00:00+01:00"),
                "rejected",
                "out of the calendar once turned to UTC",
            ),
            "year 9999 west of UTC": (
                self.started(time="9999-12-31T23:30:00-01:00"),
                "rejected",
                "out of the calendar once turned to UTC",
            ),
            "observedtime year 9999": (
                self.started(observedtime="9999-12-31T23:59:59Z"),
                "rejected",
                "observedtime '9999-12-31T23:59:59Z'",
            ),
        }

    def assertOutcome(self, name, item, result, status, reason):
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertTrue(record.exists(), name)
        self.assertEqual(result["status"], status, f"{name}: {result['error']}")
        self.assertIn(reason, (result["error"] or "") + (record.ingest_note or ""), name)
        return record

    def check_one(self, name):
        item, status, reason = self.cases()[name]
        [result] = self.ingest(item)
        return self.assertOutcome(name, item, result, status, reason)

    # ------------------------------------------------------------------ one test per class

    def test_skew_beyond_24_8_days_is_held_to_the_bound_flagged_and_noted(self):
        record = self.check_one("skew +30 days")
        self.assertEqual((record.skew_ms, record.skew_flagged), (INT4_MAX, True))
        self.assertIn("(observed time − time = 2592000000 ms)", record.ingest_note)
        self.assertEqual(record.observed_time - record.time, timedelta(days=30))
        record = self.check_one("skew -400 days")
        self.assertEqual((record.skew_ms, record.skew_flagged), (-INT4_MAX, True))

    def test_skew_within_the_bound_is_not_flagged(self):
        time = self.at(0)
        [result] = self.ingest(self.started(time=time, observedtime=self.iso(time + timedelta(seconds=4))))
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual((record.skew_ms, record.skew_flagged, record.ingest_note), (4000, False, False))
        self.connection.skew_bound_ms = 1000
        [result] = self.ingest(self.started(time=time, observedtime=self.iso(time + timedelta(seconds=4))))
        self.assertTrue(self.env["shopfloor.event"].browse(result["event_id"]).skew_flagged)

    def test_a_plc_clock_reset_to_2000_is_applied_with_its_skew_flagged(self):
        record = self.check_one("PLC clock reset to 2000")
        self.assertEqual(record.time.isoformat(), "2000-01-01T00:00:00")
        self.assertEqual((record.skew_ms, record.skew_flagged), (INT4_MAX, True))
        self.assertIn("off by 98", record.ingest_note)

    def test_quantity_of_1e308_is_rejected(self):
        self.check_one("qty 1e308")

    def test_quantities_nan_and_infinities_are_rejected(self):
        for name in ("qty NaN", "qty Infinity", "qty -Infinity"):
            record = self.check_one(name)
            self.assertEqual(record.error_class, "invalid")

    def test_negative_quantities_are_rejected(self):
        self.check_one("qty negative")
        self.check_one("scrap qty zero")

    def test_numbers_past_2_53_are_rejected_where_they_mean_something_else_stored_and_noted(self):
        self.check_one("qty past 2^53")
        self.check_one("measured value past 2^53")
        record = self.check_one("extension integer past 2^53")
        self.assertEqual(record._get_data()["counter"], 2**64)

    def test_a_mapping_revision_past_int4_is_rejected(self):
        self.check_one("mappingrev past int4")

    def test_years_0001_and_9999_are_rejected_with_the_reason(self):
        for name in (
            "year 0001",
            "year 9999",
            "year 0000",
            "year 0001 east of UTC",
            "year 9999 west of UTC",
            "observedtime year 9999",
        ):
            self.check_one(name)

    # ------------------------------------------------------------------ all at once

    def test_every_out_of_range_class_in_one_batch(self):
        cases = self.cases()
        normal = self.started()
        items = [normal] + [item for item, _status, _reason in cases.values()]
        results = self.ingest(*items)
        self.assertEqual(results[0]["status"], "applied", results[0]["error"])
        self.assertEqual(len({result["event_id"] for result in results}), len(items))
        for (name, (item, status, reason)), result in zip(cases.items(), results[1:], strict=True):
            self.assertOutcome(name, item, result, status, reason)
