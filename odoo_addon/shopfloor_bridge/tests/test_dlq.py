from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..exceptions import EventPending, PermanentError, RetryableError
from .common import ShopfloorCase

HANDLERS = "odoo.addons.shopfloor_bridge.handlers.apply_event"


@tagged("post_install", "-at_install")
class TestDeadLetters(ShopfloorCase):
    """Retry, dead-lettering and the DLQ actions.

    Transient failures (a lock, a crash in a handler) cannot be provoked on
    purpose in real Odoo, so those tests make the handler raise; everything
    else goes through the real handlers.
    """

    @contextmanager
    def handler_raising(self, error):
        with patch(HANDLERS, side_effect=error) as mocked:
            yield mocked

    def started(self, production=None, **envelope):
        production = production or self.mo1
        return self.make_event("workorder.started", {"order": production.name, "operation": "Cutting"}, **envelope)

    def unknown_order_event(self):
        return self.make_event("workorder.started", {"order": "WH/MO/NOPE", "operation": "Cutting"})

    def test_transient_failure_retried_then_dead_after_max_attempts(self):
        self.connection.max_attempts = 3
        with self.handler_raising(RetryableError("row locked by another transaction")):
            [result] = self.ingest(self.started())
            event = self.env["shopfloor.event"].browse(result["event_id"])
            self.assertEqual((result["status"], event.state, event.attempts), ("failed", "failed", 1))
            self.assertEqual(event.error_class, "transient")
            self.assertIn("row locked", event.error_message)
            self.assertGreater(event.next_retry_at, fields.Datetime.now())
            # Not due yet: the cron leaves it alone.
            self.env["shopfloor.event"]._cron_retry()
            self.assertEqual(event.attempts, 1)
            self.retry_due()
            self.assertEqual((event.state, event.attempts), ("failed", 2))
            self.retry_due()
        self.assertEqual((event.state, event.attempts), ("dead", 3))
        self.assertIn("Gave up after 3 attempts", event.error_message)
        self.assertIn("row locked", event.error_message)
        self.assertFalse(event.next_retry_at)
        self.assertEqual(event.history_ids.mapped("action"), ["fail", "fail", "dead"])
        self.retry_due()
        self.assertEqual(event.attempts, 3, "dead events are not retried by the cron")

    def test_unexpected_exception_is_transient_with_traceback(self):
        with self.handler_raising(ZeroDivisionError("division by zero")):
            [result] = self.ingest(self.started())
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual((event.state, event.error_class), ("failed", "ZeroDivisionError"))
        self.assertIn("ZeroDivisionError: division by zero", event.error_traceback)
        # Nothing the failed apply did survives its savepoint.
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))

    def test_permanent_error_goes_straight_to_dead(self):
        with self.handler_raising(PermanentError("order is cancelled")):
            [result] = self.ingest(self.started())
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual((result["status"], event.state, event.error_class), ("failed", "dead", "permanent"))

    def test_pending_past_its_bound_fails_visibly_then_dies(self):
        self.connection.pending_timeout_minutes = 30
        with self.handler_raising(EventPending("order not known yet")):
            [result] = self.ingest(self.started())
            event = self.env["shopfloor.event"].browse(result["event_id"])
            self.assertEqual((result["status"], event.state), ("pending", "pending"))
            self.retry_due()
            self.assertEqual(event.state, "pending")
            event.pending_since = fields.Datetime.now() - timedelta(minutes=31)
            self.retry_due()
            self.assertEqual(event.state, "failed")
            self.assertIn("Still waiting after 31 minutes: order not known yet", event.error_message)
            self.retry_due()
        self.assertEqual(event.state, "dead")

    def test_cron_record_runs_the_retry(self):
        [result] = self.ingest(self.unknown_order_event())
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(event.state, "pending", event.error_message)
        # The MES creates the order afterwards; the cron then applies the event.
        event.write(
            {"data_json": event.data_json.replace("WH/MO/NOPE", self.mo2.name), "next_retry_at": datetime(2000, 1, 1)}
        )
        cron = self.env.ref("shopfloor_bridge.shopfloor_event_cron_retry")
        cron.method_direct_trigger()
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(event.production_id, self.mo2)

    def test_manual_retry_resets_attempts_and_applies(self):
        with self.handler_raising(PermanentError("boom")):
            [result] = self.ingest(self.started())
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(event.state, "dead")
        event.action_retry()
        self.assertEqual((event.state, event.attempts), ("applied", 1))
        self.assertEqual(event.history_ids.mapped("action"), ["dead", "retry", "apply"])
        self.assertEqual(event.history_ids[1].user_id, self.env.user)

    def test_edit_and_retry_keeps_the_original(self):
        original = self.unknown_order_event()
        [result] = self.ingest(original)
        event = self.env["shopfloor.event"].browse(result["event_id"])
        raw_before = event.raw_payload
        original_data = event.data_json
        event.action_edit_and_retry({"order": self.mo1.name, "operation": "Cutting"})
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(event.production_id, self.mo1)
        self.assertEqual(event.original_data_json, original_data)
        self.assertEqual(event.raw_payload, raw_before)
        self.assertEqual(event._get_data()["order"], self.mo1.name)
        edit = event.history_ids.filtered(lambda h: h.action == "edit")
        self.assertEqual(edit.user_id, self.env.user)
        self.assertIn(self.mo1.name, edit.note)

    def test_edit_can_fix_a_rejected_envelope(self):
        bad = self.started(time="2026-11-23 08:00")
        [result] = self.ingest(bad)
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(event.state, "rejected")
        fixed = dict(bad, time="2026-11-23T08:00:00Z")
        event.action_edit_and_retry(fixed)
        self.assertEqual(event.state, "applied", event.error_message)
        self.assertEqual(event.time, datetime(2026, 11, 23, 8, 0))

    def test_edit_with_invalid_payload_changes_nothing(self):
        [result] = self.ingest(self.unknown_order_event())
        event = self.env["shopfloor.event"].browse(result["event_id"])
        before = (event.data_json, event.state, len(event.history_ids))
        with self.assertRaisesRegex(UserError, "still invalid.*qty_good"):
            event.action_edit_and_retry('{"specversion": "1.0", "type": "workorder.completed", "data": {"order": "x"}}')
        with self.assertRaisesRegex(UserError, "not valid JSON"):
            event.action_edit_and_retry("{order:")
        self.assertEqual((event.data_json, event.state, len(event.history_ids)), before)

    def test_discard_needs_a_reason_and_is_logged(self):
        [result] = self.ingest(self.make_event("nonsense.type", {}))
        event = self.env["shopfloor.event"].browse(result["event_id"])
        with self.assertRaisesRegex(UserError, "needs a reason"):
            event.action_discard("  ")
        event.action_discard("test message from commissioning")
        self.assertEqual((event.state, event.discard_reason), ("discarded", "test message from commissioning"))
        log = event.history_ids.filtered(lambda h: h.action == "discard")
        self.assertEqual((log.user_id, log.note), (self.env.user, "test message from commissioning"))
        [applied] = self.ingest(self.started())
        with self.assertRaisesRegex(UserError, "Applied events cannot be discarded"):
            self.env["shopfloor.event"].browse(applied["event_id"]).action_discard("no")

    def test_bulk_by_domain(self):
        with self.handler_raising(PermanentError("wrong routing")):
            results = self.ingest(self.started(), self.started(self.mo2))
        other = self.ingest(self.make_event("bogus.type", {}))
        dead = self.env["shopfloor.event"].browse([r["event_id"] for r in results])
        self.assertEqual(set(dead.mapped("state")), {"dead"})
        count = self.env["shopfloor.event"].dlq_bulk([("error_class", "=", "permanent")], "retry")
        self.assertEqual(count, 2)
        self.assertEqual(set(dead.mapped("state")), {"applied"})
        rejected = self.env["shopfloor.event"].browse(other[0]["event_id"])
        count = self.env["shopfloor.event"].dlq_bulk([("type", "=", "bogus.type")], "discard", "not ours")
        self.assertEqual((count, rejected.state), (1, "discarded"))
        with self.assertRaisesRegex(UserError, "'retry' or 'discard'"):
            self.env["shopfloor.event"].dlq_bulk([], "delete")

    def test_managers_notified_when_dlq_passes_threshold(self):
        rule = self.connection.alert_rule_ids.filtered(lambda r: r.kind == "dlq_count")
        rule.threshold = 2
        alerts = self.env["shopfloor.alert"]
        self.ingest(*[self.make_event("bogus.type", {}) for _ in range(2)])
        self.assertFalse(alerts.search([("rule_id", "=", rule.id)]))
        self.ingest(self.make_event("bogus.type", {}))
        alert = alerts.search([("rule_id", "=", rule.id)])
        self.assertEqual(len(alert.activity_ids), 1)
        self.assertIn("3 dead, rejected or failed events", str(alert.activity_ids.note))
        self.assertTrue(alert.activity_ids.user_id.has_group("shopfloor_bridge.shopfloor_bridge_group_manager"))
        self.ingest(self.make_event("bogus.type", {}))
        self.assertEqual(alerts.search([("rule_id", "=", rule.id)]), alert)
        self.assertEqual(len(alert.activity_ids), 1)

    def test_retention_purges_old_applied_events_only(self):
        self.env["ir.config_parameter"].set_param("shopfloor_bridge.retention_days", "30")
        results = self.ingest(self.started(), self.started(self.mo2), self.make_event("bogus.type", {}))
        old_applied, recent_applied, old_rejected = self.env["shopfloor.event"].browse([r["event_id"] for r in results])
        self.assertEqual(old_applied.state, "applied")
        long_ago = fields.Datetime.now() - timedelta(days=31)
        old_applied.applied_time = long_ago
        old_rejected.write({"ingest_time": long_ago})
        self.env.cr.execute("UPDATE shopfloor_event SET create_date = %s WHERE id = %s", [long_ago, old_rejected.id])
        self.assertEqual(self.env["shopfloor.event"]._cron_purge_applied(), 1)
        self.assertFalse(old_applied.exists())
        self.assertTrue(recent_applied.exists())
        self.assertTrue(old_rejected.exists())
        self.assertFalse(self.env["shopfloor.event.log"].search([("event_id", "=", old_applied.id)]))
        self.env.ref("shopfloor_bridge.shopfloor_event_cron_purge").method_direct_trigger()
