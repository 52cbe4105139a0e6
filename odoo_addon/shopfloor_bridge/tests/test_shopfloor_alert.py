import importlib.util
import json
import socket
from datetime import timedelta
from pathlib import Path

import psycopg2

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import alerting
from .common import ShopfloorCase

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"


def closed_port():
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestShopfloorAlert(ShopfloorCase):
    """Alert rules of each kind: open once, no repeat, resolve, re-open; and what people get."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.responsible = cls.env["res.users"].create(
            {
                "name": "Shift lead",
                "login": "alert-shift-lead",
                "email": "lead@plant.example",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref("shopfloor_bridge.shopfloor_bridge_group_user").id,
                        ],
                    )
                ],
            }
        )
        cls.connection.responsible_user_ids = cls.responsible

    # -- helpers ---------------------------------------------------------------

    def rule(self, kind, threshold=None, **values):
        """The connection's default rule of ``kind``, the only active one, at ``threshold``."""
        rules = self.connection.with_context(active_test=False).alert_rule_ids
        rules.write({"active": False})
        rule = rules.filtered(lambda r: r.kind == kind)
        self.assertEqual(len(rule), 1, kind)
        rule.write(dict(values, active=True, **({"threshold": threshold} if threshold is not None else {})))
        return rule

    def alerts(self, rule):
        return self.env["shopfloor.alert"].search([("rule_id", "=", rule.id)], order="id")

    def heartbeat(self, **stats):
        return self.env["shopfloor.connection"].heartbeat("test-conn", stats)

    def evaluate(self, rule, now=None):
        return rule._evaluate(now=now)

    def assert_cycle(self, rule, breach, clear, check=None):
        """breach → one open alert; breach again → still one; clear → resolved; breach → a second one."""
        check = check or (lambda: self.evaluate(rule))
        breach()
        check()
        [first] = self.alerts(rule)
        self.assertEqual(first.state, "open")
        breach()
        check()
        self.assertEqual(self.alerts(rule), first, "no repeat while the condition lasts")
        self.assertEqual(len(first.activity_ids), 1, "one activity, not one per check")
        clear()
        check()
        self.assertEqual(first.state, "resolved")
        self.assertTrue(first.resolved_at)
        self.assertFalse(first.activity_ids, "the activity is marked done on resolve")
        breach()
        check()
        alerts = self.alerts(rule)
        self.assertEqual(len(alerts), 2, "a new alert once the old one resolved")
        self.assertEqual(alerts[1].state, "open")
        return first

    # -- defaults ----------------------------------------------------------------

    def test_new_connection_gets_every_kind_at_its_default(self):
        connection = self.env["shopfloor.connection"].create({"code": "fresh", "name": "Fresh", "kind": "mqtt"})
        rules = connection.alert_rule_ids
        self.assertEqual(sorted(rules.mapped("kind")), sorted(alerting.KINDS))
        for rule in rules:
            self.assertEqual(rule.threshold, alerting.KINDS[rule.kind][2])
            self.assertTrue(rule.name)
        self.assertEqual(rules.filtered(lambda r: r.kind == "dlq_count").threshold, 50)

    # -- each kind ---------------------------------------------------------------

    def test_heartbeat_age(self):
        rule = self.rule("heartbeat_age", 120)
        self.evaluate(rule)
        self.assertFalse(self.alerts(rule), "a sidecar that never reported is not late")

        def breach():
            self.connection.sudo().write({"last_seen": fields.Datetime.now() - timedelta(seconds=300)})

        first = self.assert_cycle(rule, breach, lambda: self.heartbeat(spool_depth=0))
        self.assertIn("last heartbeat 300 s ago", first.open_message)
        self.assertGreaterEqual(first.value, 0)

    def test_spool_depth_on_heartbeat(self):
        rule = self.rule("spool_depth", 1000)
        first = self.assert_cycle(
            rule,
            lambda: self.heartbeat(spool_depth=5000),
            lambda: self.heartbeat(spool_depth=1000),
            check=lambda: None,  # the heartbeat itself checks
        )
        self.assertEqual(first.value, 1000)
        self.assertIn("5000 events in the sidecar's spool", first.open_message)

    def test_spool_growth_per_minute(self):
        rule = self.rule("spool_growth", 100)
        t0 = fields.Datetime.now()
        self.connection.sudo().spool_depth = 0
        self.evaluate(rule, t0)
        self.connection.sudo().spool_depth = 50
        self.evaluate(rule, t0 + timedelta(seconds=30))
        self.assertFalse(self.alerts(rule), "less than a minute of samples tells nothing")
        self.connection.sudo().spool_depth = 600
        self.evaluate(rule, t0 + timedelta(seconds=120))
        [alert] = self.alerts(rule)
        self.assertAlmostEqual(alert.value, 300.0)
        self.connection.sudo().spool_depth = 700
        self.evaluate(rule, t0 + timedelta(seconds=180))
        self.assertEqual(alert.state, "resolved", "100/min is not faster than 100/min")
        self.connection.sudo().spool_depth = 1000
        self.evaluate(rule, t0 + timedelta(seconds=240))
        self.assertEqual(len(self.alerts(rule)), 2)

    def test_dlq_count_opens_on_ingest(self):
        rule = self.rule("dlq_count", 2)

        def breach():
            self.ingest(*[self.make_event("bogus.type", {}) for _ in range(3)])

        def clear():
            rejected = self.env["shopfloor.event"].search([("state", "=", "rejected")])
            rejected.dlq_bulk([("id", "in", rejected.ids)], "discard", reason="reviewed")

        self.ingest(*[self.make_event("bogus.type", {}) for _ in range(2)])
        self.assertFalse(self.alerts(rule), "2 is not over 2")
        clear()
        # Ingest checks the dead-letter rules at once; a discard waits for the cron (run here).
        first = self.assert_cycle(rule, breach, clear)
        self.assertIn("3 dead, rejected or failed events", first.open_message)
        self.assertIn("0 dead, rejected or failed events", first.message)

    def test_dlq_rate_per_hour(self):
        rule = self.rule("dlq_rate", 2)
        self.ingest(*[self.make_event("bogus.type", {}) for _ in range(3)])
        [alert] = self.alerts(rule)
        self.assertEqual(alert.value, 3)
        self.ingest(self.make_event("bogus.type", {}))
        self.assertEqual(self.alerts(rule), alert)
        self.env["shopfloor.event"].flush_model()
        self.env.cr.execute(
            "UPDATE shopfloor_event SET write_date = now() at time zone 'UTC' - interval '2 hours' "
            "WHERE connection_id = %s",
            [self.connection.id],
        )
        self.env["shopfloor.event"].invalidate_model()
        self.evaluate(rule)
        self.assertEqual(alert.state, "resolved")
        self.assertIn("0 events dead, rejected or failed in the last hour", alert.message)

    def test_event_pending_too_long(self):
        rule = self.rule("pending_age", 30)
        result, event = self.ingest_one(self.make_event("downtime.ended", {"reason_code": "BRK", "downtime_id": "d-1"}))
        self.assertEqual(event.state, "pending", result)

        def age(minutes):
            def move():
                event.sudo().write({"pending_since": fields.Datetime.now() - timedelta(minutes=minutes)})

            return move

        first = self.assert_cycle(rule, age(45), age(1))
        self.assertIn("oldest pending event waits for 45 min", first.open_message)

    def test_clock_skew_beyond_the_connections_bound(self):
        self.connection.skew_bound_ms = 5000
        rule = self.rule("clock_skew", 0)
        first = self.assert_cycle(
            rule,
            lambda: self.heartbeat(max_skew_ms=-9000),
            lambda: self.heartbeat(max_skew_ms=200),
            check=lambda: None,
        )
        self.assertIn("off by 9000 ms (bound 5000 ms)", first.open_message)
        rule.threshold = 10000
        self.heartbeat(max_skew_ms=9000)
        self.assertEqual(self.alerts(rule).filtered(lambda a: a.state == "open").mapped("value"), [])

    def test_source_disconnected(self):
        rule = self.rule("source_down", 0)
        first = self.assert_cycle(
            rule,
            lambda: self.heartbeat(source="modbus", source_connected=False, source_error="ECONNREFUSED 10.0.0.5:502"),
            lambda: self.heartbeat(source="modbus", source_connected=True),
            check=lambda: None,
        )
        self.assertIn("modbus disconnected for 0 s: ECONNREFUSED 10.0.0.5:502", first.open_message)

    def test_source_down_waits_its_grace_time(self):
        rule = self.rule("source_down", 60)
        t0 = fields.Datetime.now()
        self.connection.sudo().stats_json = json.dumps({"source_connected": False})
        self.evaluate(rule, t0)
        self.evaluate(rule, t0 + timedelta(seconds=59))
        self.assertFalse(self.alerts(rule))
        self.evaluate(rule, t0 + timedelta(seconds=61))
        self.assertEqual(self.alerts(rule).value, 61)

    def test_whatever_a_heartbeat_says_no_alert_fails_it(self):
        for kind in alerting.KINDS:
            self.rule(kind, 0)
        self.connection.with_context(active_test=False).alert_rule_ids.write({"active": True})
        for stats in (
            {"source_connected": "no", "max_skew_ms": "NaN", "spool_depth": "lots"},
            {"source_connected": None, "max_skew_ms": float("inf")},
            {"max_skew_ms": True, "source_connected": 1},
        ):
            reply = self.heartbeat(**stats)
            self.assertIn("server_time", reply)
        kinds = self.env["shopfloor.alert"].search([("connection_id", "=", self.connection.id)]).mapped("kind")
        self.assertNotIn("clock_skew", kinds)
        self.assertNotIn("source_down", kinds)

    # -- notification content -------------------------------------------------------

    def test_activity_and_mail_to_responsible_users_then_resolved(self):
        rule = self.rule("spool_depth", 10, webhook_kind="slack", webhook_url="http://127.0.0.1:9/hook")
        self.heartbeat(spool_depth=11)
        [alert] = self.alerts(rule)
        self.assertEqual(alert.title, "test-conn: Spool depth over 10 events")
        [activity] = alert.activity_ids
        self.assertEqual(activity.user_id, self.responsible)
        self.assertEqual(activity.summary, "[ALERT] test-conn: Spool depth over 10 events")
        self.assertIn("11 events in the sidecar's spool", str(activity.note))
        [mail] = self.env["mail.mail"].search([("model", "=", "shopfloor.alert"), ("res_id", "=", alert.id)])
        self.assertEqual(mail.recipient_ids, self.responsible.partner_id)
        self.assertEqual(mail.subject, "[ALERT] test-conn: Spool depth over 10 events")
        self.assertIn("11 events in the sidecar&#39;s spool", mail.body_html.replace("'", "&#39;"))
        self.assertEqual(mail.state, "outgoing")
        [delivery] = alert.delivery_ids
        self.assertEqual((delivery.kind, delivery.transition, delivery.state), ("slack", "opened", "pending"))
        body = json.loads(delivery.payload)
        self.assertEqual(list(body), ["text"])
        self.assertTrue(body["text"].startswith("*[ALERT] test-conn: Spool depth over 10 events*\n11 events"))

        self.heartbeat(spool_depth=0)
        mails = self.env["mail.mail"].search([("model", "=", "shopfloor.alert"), ("res_id", "=", alert.id)], order="id")
        self.assertEqual(mails[-1].subject, "[RESOLVED] test-conn: Spool depth over 10 events")
        self.assertIn("0 events in the sidecar", mails[-1].body_html)
        self.assertFalse(alert.activity_ids)
        self.assertEqual(alert.delivery_ids.mapped("transition"), ["resolved", "opened"])
        self.assertEqual(alert.notified_partner_ids, self.responsible.partner_id)

    def test_without_responsible_users_a_manager_hears_of_it(self):
        self.connection.responsible_user_ids = False
        rule = self.rule("spool_depth", 10)
        self.heartbeat(spool_depth=11)
        [alert] = self.alerts(rule)
        [activity] = alert.activity_ids
        self.assertTrue(activity.user_id.has_group(MANAGER_GROUP))

    def test_webhook_bodies(self):
        notice = alerting.Notice(
            transition="resolved",
            connection="plant-1",
            rule="Spool depth over 10 events",
            kind="spool_depth",
            message="3 events in the sidecar's spool",
            value=3.0,
            threshold=10.0,
            opened_at="2026-12-02 10:00:00 UTC",
            resolved_at="2026-12-02 10:05:00 UTC",
            url="https://odoo.example/odoo/shopfloor.alert/7",
        )
        self.assertEqual(
            alerting.slack_body(notice),
            {
                "text": "*[RESOLVED] plant-1: Spool depth over 10 events*\n3 events in the sidecar's spool\n"
                "<https://odoo.example/odoo/shopfloor.alert/7|Open in Odoo>"
            },
        )
        teams = alerting.teams_body(notice)
        self.assertEqual(teams["type"], "message")
        [attachment] = teams["attachments"]
        self.assertEqual(attachment["contentType"], "application/vnd.microsoft.card.adaptive")
        card = attachment["content"]
        self.assertEqual((card["type"], card["version"]), ("AdaptiveCard", "1.4"))
        self.assertEqual(card["body"][0]["text"], "[RESOLVED] plant-1: Spool depth over 10 events")
        self.assertIn({"title": "Resolved", "value": "2026-12-02 10:05:00 UTC"}, card["body"][2]["facts"])
        self.assertEqual(alerting.json_body(notice)["event"], "shopfloor.alert.resolved")

    @mute_logger("odoo.addons.shopfloor_bridge.models.shopfloor_alert")
    def test_dead_receiver_is_retried_then_failed_and_shown(self):
        url = f"http://127.0.0.1:{closed_port()}/hook"
        rule = self.rule("spool_depth", 10, webhook_kind="json", webhook_url=url)
        self.heartbeat(spool_depth=11)
        [alert] = self.alerts(rule)
        [delivery] = alert.delivery_ids
        deliveries = self.env["shopfloor.alert.delivery"]
        for attempt in range(1, alerting.WEBHOOK_MAX_ATTEMPTS + 1):
            delivery.sudo().write({"next_try_at": fields.Datetime.now() - timedelta(seconds=1)})
            deliveries._cron_deliver()
            self.assertEqual(delivery.attempts, attempt)
            self.assertIn("Could not reach the receiver", delivery.last_error)
        self.assertEqual(delivery.state, "failed")
        self.assertTrue(alert.delivery_failed)
        notes = alert.message_ids.mapped("body")
        self.assertTrue(any("attempt 5 of 5" in str(body) for body in notes))
        self.assertEqual(alert.state, "open", "a failed webhook does not touch the alert")

    # -- guarantees ----------------------------------------------------------------

    def test_one_open_alert_per_rule_in_the_database(self):
        rule = self.rule("spool_depth", 10)
        self.heartbeat(spool_depth=11)
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["shopfloor.alert"].create(
                {"rule_id": rule.id, "title": "twice", "opened_at": fields.Datetime.now()}
            )

    def test_dashboard_tile_counts_open_alerts(self):
        self.rule("spool_depth", 10)
        self.heartbeat(spool_depth=11)
        tiles = self.env["shopfloor.dashboard"].get_dashboard()["tiles"]
        [tile] = [t for t in tiles if t["code"] == "test-conn"]
        self.assertEqual(tile["open_alerts"], 1)

    def test_migration_folds_the_old_dlq_threshold_in(self):
        path = Path(__file__).parent.parent / "migrations" / "18.0.0.4.0" / "post-alert_rules.py"
        spec = importlib.util.spec_from_file_location("sfb_post_alert_rules", path)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        other = self.env["shopfloor.connection"].create({"code": "old-off", "name": "Old, alert off", "kind": "mqtt"})
        (self.connection | other).with_context(active_test=False).alert_rule_ids.unlink()
        # As an 18.0.0.3.0 database has it (rolled back with the test).
        self.env.cr.execute("ALTER TABLE shopfloor_connection ADD COLUMN IF NOT EXISTS dlq_threshold integer")
        self.env.cr.execute("UPDATE shopfloor_connection SET dlq_threshold = 7 WHERE id = %s", [self.connection.id])
        self.env.cr.execute("UPDATE shopfloor_connection SET dlq_threshold = 0 WHERE id = %s", [other.id])
        done = script.convert(self.env)
        self.assertEqual((done[self.connection.id], done[other.id]), (7, 0))
        self.connection.invalidate_recordset()
        rules = self.connection.with_context(active_test=False).alert_rule_ids
        self.assertEqual(sorted(rules.mapped("kind")), sorted(alerting.KINDS))
        dlq = rules.filtered(lambda r: r.kind == "dlq_count")
        self.assertEqual((dlq.threshold, dlq.active), (7, True))
        off = other.with_context(active_test=False).alert_rule_ids.filtered(lambda r: r.kind == "dlq_count")
        self.assertEqual((off.threshold, off.active), (0, False))
        self.assertEqual(script.convert(self.env), {}, "run twice, nothing doubles")
