import base64
import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ShopfloorCase

RESULT_KEYS = {"id", "source", "status", "event_id", "error"}


@tagged("post_install", "-at_install")
class TestIngest(ShopfloorCase):
    def started(self, production=None, **envelope):
        production = production or self.mo1
        return self.make_event("workorder.started", {"order": production.name, "operation": "Cutting"}, **envelope)

    def events(self):
        return self.env["shopfloor.event"].search([])

    def test_valid_event_stored_and_applied(self):
        event = self.started(time="2026-11-23T09:15:03.120+01:00", observedtime="2026-11-23T08:15:04.120Z")
        [result] = self.ingest(event)
        self.assertEqual(set(result), RESULT_KEYS)
        self.assertEqual(result["status"], "applied", result["error"])
        self.assertEqual((result["id"], result["source"], result["error"]), (event["id"], event["source"], ""))
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(record.state, "applied")
        # Offsets are normalised to naive UTC, the skew comes from observedtime.
        self.assertEqual(record.time.isoformat(), "2026-11-23T08:15:03.120000")
        self.assertEqual(record.skew_ms, 1000)
        self.assertEqual(record.workcenter_id, self.wc_press1)
        self.assertEqual(record.connection_id, self.connection)
        self.assertEqual(record.mapping_revision, self.connection.revision)
        self.assertEqual(record.production_id, self.mo1)
        self.assertEqual(record.workorder_id, self.workorder_of(self.mo1, "Cutting"))
        self.assertEqual(json.loads(record.raw_payload), event)
        self.assertEqual(record._get_data(), event["data"])
        self.assertTrue(record.applied_time and record.ingest_time)
        self.assertEqual(record.attempts, 1)
        refs = record.result_refs.splitlines()
        log = self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))
        self.assertIn(f"mrp.workcenter.productivity,{log.id}", refs)
        self.assertEqual(record.history_ids.mapped("action"), ["apply"])

    def test_duplicates_in_one_call_and_across_calls(self):
        event = self.started()
        results = self.ingest(event, dict(event))
        self.assertEqual([r["status"] for r in results], ["applied", "duplicate"])
        self.assertEqual(results[0]["event_id"], results[1]["event_id"])
        [again] = self.ingest(event)
        self.assertEqual(again["status"], "duplicate")
        self.assertEqual(again["event_id"], results[0]["event_id"])
        self.assertEqual(self.env["shopfloor.event"].search_count([("event_uid", "=", event["id"])]), 1)
        # No second effect: one time log only.
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), 1)

    def test_same_id_other_source_is_another_event(self):
        first = self.started(id="same-id")
        second = self.make_event(
            "workorder.started",
            {"order": self.mo2.name, "operation": "Cutting"},
            id="same-id",
            source="plant1/line2/press-02",
        )
        statuses = [r["status"] for r in self.ingest(first, second)]
        self.assertNotIn("duplicate", statuses)
        self.assertEqual(self.env["shopfloor.event"].search_count([("event_uid", "=", "same-id")]), 2)

    def test_batch_over_limit_refused_whole(self):
        before = self.env["shopfloor.event"].search_count([])
        batch = [self.started(id=f"e{i}") for i in range(1001)]
        with self.assertRaisesRegex(UserError, "at most 1000 events per call, got 1001"):
            self.ingest(*batch)
        self.assertEqual(self.env["shopfloor.event"].search_count([]), before)

    def test_bad_entry_never_affects_the_others(self):
        good1 = self.started()
        wrong_type = self.make_event("workorder.completed", {"order": self.mo2.name, "qty_good": "ten"})
        good2 = self.make_event(
            "workorder.started", {"order": self.mo2.name, "operation": "Cutting"}, source="plant1/line2/press-02"
        )
        results = self.ingest(good1, wrong_type, good2)
        self.assertEqual([r["status"] for r in results], ["applied", "rejected", "applied"], results)
        self.assertIn("qty_good", results[1]["error"])
        self.assertIn("not of type 'number'", results[1]["error"])
        rejected = self.env["shopfloor.event"].browse(results[1]["event_id"])
        self.assertEqual(rejected.state, "rejected")
        self.assertEqual(rejected.error_class, "invalid")
        self.assertEqual(json.loads(rejected.raw_payload), wrong_type)
        self.assertEqual(rejected.history_ids.mapped("action"), ["reject"])

    def test_unknown_type_rejected_not_dropped(self):
        event = self.make_event("machine.exploded", {"order": self.mo1.name})
        [result] = self.ingest(event)
        self.assertEqual(result["status"], "rejected")
        self.assertIn("unknown event type 'machine.exploded'", result["error"])
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(record.type, "machine.exploded")
        self.assertEqual(json.loads(record.raw_payload)["type"], "machine.exploded")

    def test_missing_required_field_rejected(self):
        [result] = self.ingest(self.make_event("workorder.completed", {"order": self.mo1.name}))
        self.assertEqual(result["status"], "rejected")
        self.assertIn("'qty_good' is a required property", result["error"])

    def test_oversize_and_long_strings_rejected(self):
        big = self.make_event(
            "quality.result",
            {
                "characteristic": "x",
                "pass": True,
                **{f"note{i}": "y" * 4000 for i in range(70)},
            },
        )
        long_string = self.make_event("workorder.started", {"order": self.mo1.name, "operator": "z" * 5000})
        results = self.ingest(big, long_string)
        self.assertEqual([r["status"] for r in results], ["rejected", "rejected"])
        self.assertRegex(results[0]["error"], r"event is \d+ bytes serialized, over the 262144-byte limit")
        self.assertIn("string at $.data.operator is 5000 characters, over the 4096 limit", results[1]["error"])
        stored = self.env["shopfloor.event"].browse(results[0]["event_id"])
        self.assertGreater(stored.raw_size, 262144)
        self.assertEqual(json.loads(stored.raw_payload), big)

    def test_bad_times_rejected(self):
        no_zone = self.started(time="2026-11-23T08:00:00")
        bad_month = self.started(time="2026-13-01T08:00:00Z")
        not_a_time = self.started()
        not_a_time["time"] = 1700000000
        results = self.ingest(no_zone, bad_month, not_a_time)
        self.assertEqual([r["status"] for r in results], ["rejected"] * 3)
        self.assertIn("has no time zone", results[0]["error"])
        self.assertIn("'2026-13-01T08:00:00Z' is not an RFC 3339 date-time", results[1]["error"])
        self.assertIn("time", results[2]["error"])

    def test_rejected_input_keeps_raw_bytes_visible(self):
        raw = b'\xff\xfe{"order": "WH/MO/1", \x00broken'
        item = {
            "rejected": True,
            "id": "sha-abc",
            "source": "shopfloor/plant1/line1/press-01",
            "connection": "test-conn",
            "raw_b64": base64.b64encode(raw).decode(),
            "raw_size": len(raw),
            "truncated": False,
            "reason": "payload is not valid JSON",
            "observedtime": "2026-11-23T08:00:00Z",
        }
        [result] = self.ingest(item)
        self.assertEqual(result["status"], "rejected")
        self.assertEqual(result["error"], "payload is not valid JSON")
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(base64.b64decode(record.raw_b64), raw)
        self.assertTrue(record.raw_payload.startswith('\\xff\\xfe{"order"'), record.raw_payload)
        self.assertIn("\\x00broken", record.raw_payload)
        self.assertEqual(record.connection_id, self.connection)
        self.assertEqual(record.raw_size, len(raw))
        self.assertEqual(record.observed_time.isoformat(), "2026-11-23T08:00:00")
        [again] = self.ingest(item)
        self.assertEqual((again["status"], again["event_id"]), ("duplicate", record.id))

    def test_garbage_items_stored_rejected(self):
        results = self.ingest("not an event", {"id": 5, "source": ["x"]}, None)
        self.assertEqual([r["status"] for r in results], ["rejected"] * 3)
        for result in results:
            self.assertGreater(result["event_id"], 0)
            self.assertNotIn(None, result.values())
        self.assertIn("must be a JSON object", results[0]["error"])
        self.assertEqual(self.env["shopfloor.event"].browse(results[0]["event_id"]).raw_payload, '"not an event"')

    def test_workcenter_from_data_when_source_unmapped(self):
        event = self.make_event(
            "downtime.started", {"reason_code": "BRK", "workcenter": "L2-PRESS"}, source="plant1/line2/unknown-sensor"
        )
        [result] = self.ingest(event)
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(record.workcenter_id, self.wc_press2)

    def test_per_workcenter_time_order_within_a_batch(self):
        start = self.make_event("downtime.started", {"reason_code": "SETUP"}, time=self.at(10))
        end = self.make_event("downtime.ended", {"reason_code": "SETUP"}, time=self.at(25))
        # Sent end first: applied in time order, both succeed.
        results = self.ingest(end, start)
        self.assertEqual([r["status"] for r in results], ["applied", "applied"], results)
        [log] = self.time_logs(workcenter=self.wc_press1).filtered(lambda tl: tl.loss_id == self.loss_setup)
        self.assertEqual((log.date_start, log.date_end), (self.at(10), self.at(25)))

    def test_waiting_event_applies_when_its_predecessor_arrives(self):
        end = self.make_event("downtime.ended", {"reason_code": "SETUP"}, time=self.at(25))
        [waiting] = self.ingest(end)
        self.assertEqual(waiting["status"], "pending")
        record = self.env["shopfloor.event"].browse(waiting["event_id"])
        self.assertTrue(record.next_retry_at and record.pending_since)
        self.assertEqual(record.error_class, "pending")
        start = self.make_event("downtime.started", {"reason_code": "SETUP"}, time=self.at(10))
        [started] = self.ingest(start)
        self.assertEqual(started["status"], "applied")
        self.assertEqual(record.state, "applied")
        self.assertEqual(record.history_ids.mapped("action"), ["pending", "apply"])

    def test_applied_event_is_never_applied_again(self):
        [result] = self.ingest(self.started())
        record = self.env["shopfloor.event"].browse(result["event_id"])
        # A retried RPC transaction or a racing cron reaching an applied event: no-op.
        self.assertEqual(record._apply_events(), {})
        self.assertEqual(record.attempts, 1)
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), 1)

    def test_unknown_connection_still_stored(self):
        event = self.started(connection="nobody-knows")
        [result] = self.ingest(event)
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(record.connection_code, "nobody-knows")
        self.assertFalse(record.connection_id)
        self.assertEqual(record.company_id, self.env.company)
        self.assertNotEqual(result["status"], "duplicate")

    def test_not_a_list_refused(self):
        with self.assertRaisesRegex(UserError, "takes a list of events"):
            self.env["shopfloor.event"].ingest({"id": "x"})
        self.assertEqual(self.env["shopfloor.event"].ingest([]), [])

    def test_store_only_then_cron_applies(self):
        event = self.started()
        [result] = self.env["shopfloor.event"].with_context(shopfloor_defer_apply=True).ingest([event])
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual((result["status"], record.state, record.attempts), ("pending", "pending", 0))
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(record.state, "applied", record.error_message)
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), 1)
