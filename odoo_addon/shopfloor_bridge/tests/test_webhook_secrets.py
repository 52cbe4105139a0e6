"""A webhook URL is a password: it must not reach the log, the chatter or an error message.

Slack and Teams put the secret in the URL's path or query: whoever has the URL may post to
the channel. Managers read and set it; everyone else, and Odoo's log, never sees it.
"""

import html
import importlib.util
import random
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import psycopg2

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .. import alerting
from .common import ShopfloorCase, captured, refuse
from .test_shopfloor_alert import closed_port

ALERT_LOGGER = "odoo.addons.shopfloor_bridge.models.shopfloor_alert"
MANAGER_GROUPS = "base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every POST as many web servers do: 404, naming the path it was asked for,
    as it arrived (percent-encoded), decoded, and HTML-escaped."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (f"Cannot POST {self.path}\n<pre>{html.escape(unquote(self.path))}</pre>\n{unquote(self.path)}").encode(
            "utf-8", "surrogateescape"
        )
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def random_secret_url(rng, port, marker):
    """An http URL to the local ``port`` whose path and query hold ``marker`` among the
    characters webhook URLs and their senders use: percent escapes (valid or not),
    sub-delimiters, non-ASCII letters and symbols."""
    alphabet = "abcXYZ019-._~!$&'()*+,;=:@%/é漢🔑"
    noise = lambda: "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))  # noqa: E731
    segments = [noise() + (marker if i == 0 else "") + noise() for i in range(rng.randrange(1, 4))]
    path = "/" + "/".join(segments)
    query = rng.choice(["", f"?sig={noise()}{marker}", f"?a={noise()}&sig={marker}%2F{noise()}"])
    return f"http://127.0.0.1:{port}{path}{query}"


@tagged("post_install", "-at_install")
class TestWebhookSecrets(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "sf-webhook-manager", groups=MANAGER_GROUPS)
        cls.rule = cls.connection.alert_rule_ids.filtered(lambda r: r.kind == "spool_depth")
        cls.rule.write({"threshold": 10})
        cls.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": 11})
        cls.alert = cls.env["shopfloor.alert"].search([("rule_id", "=", cls.rule.id)])

    def deliver(self, url):
        """One delivery of the open alert to ``url``, posted once; (its error, the chatter note, the log)."""
        delivery = (
            self.env["shopfloor.alert.delivery"]
            .sudo()
            .create({"alert_id": self.alert.id, "transition": "opened", "kind": "json", "url": url, "payload": "{}"})
        )
        with captured(ALERT_LOGGER) as logged:
            delivery._post()
        note = str(self.alert.message_ids.sorted("id")[-1].body)
        return delivery.last_error or "", note, "\n".join(logged)

    def assert_hidden(self, marker, *texts):
        for text in texts:
            self.assertNotIn(marker, text)

    # -- what people read -------------------------------------------------------------

    def test_an_unreachable_receiver_is_reported_without_the_path(self):
        marker = "SECRETnotREACHABLE"
        url = f"http://127.0.0.1:{closed_port()}/services/T000/B000/{marker}?sig={marker}x"
        error, note, log = self.deliver(url)
        self.assertIn("Could not reach the receiver", error)
        self.assertIn("127.0.0.1", error, "the host stays: it tells which receiver is down")
        self.assert_hidden(marker, error, note, log)
        self.assertIn("attempt 1 of", note)

    def test_a_receiver_echoing_the_path_is_reported_without_it(self):
        marker = "SECRETechoedBACK"
        with echo_server() as port:
            error, note, log = self.deliver(f"http://127.0.0.1:{port}/hooks/{marker}/x%20y?token={marker}2")
        self.assertIn("HTTP 404", error)
        self.assertIn("Cannot POST …", error)
        self.assert_hidden(marker, error, note, log)

    def test_property_no_url_shape_leaks_its_secret(self):
        # Property-style (hypothesis is not in Odoo's Python here): seeded, so a failure names its case.
        rng = random.Random(20261204)
        with echo_server() as port:
            dead = closed_port()
            for case in range(24):
                marker = f"Q{rng.randrange(10**9, 10**10)}Z"
                url = random_secret_url(rng, port if case % 2 else dead, marker)
                with self.subTest(case=case, url=url):
                    error, note, log = self.deliver(url)
                    self.assertTrue(error)
                    self.assert_hidden(marker, error, note, log)

    def test_redaction_is_cut_after_the_secret_not_through_it(self):
        # Cut first, the first 15 characters of the path would be left over, "ABCDE" among them.
        url = "https://hooks.example/services/ABCDEFGHIJ"
        text = "x" * 485 + "/services/ABCDEFGHIJ and more"
        self.assertEqual(alerting.redact_webhook_url(text, url, limit=500), "x" * 485 + "… and more")
        self.assertEqual(
            alerting.redact_webhook_url(text + "y" * 20, url, limit=500), "x" * 485 + "… and more" + "y" * 5
        )

    # -- what may be saved --------------------------------------------------------------

    def test_a_webhook_url_that_cannot_work_is_refused_without_repeating_it(self):
        marker = "SECRETinBADurl"
        for bad in (
            f"hooks.slack.com/services/{marker}",
            f"ftp://hooks.example/{marker}",
            f"https:///{marker}",
            f"https://hooks.example:99999/{marker}",
            f"https://hooks.example/ {marker}",
            f"https://hooks.example/\x07{marker}",
        ):
            for record, field in ((self.rule, "webhook_url"), (self.connection, "alert_webhook_url")):
                with self.subTest(url=bad, field=field), self.assertRaises(ValidationError) as refused:
                    with self.env.cr.savepoint():
                        record.with_user(self.manager).write({field: bad})
                self.assertIn("cannot be used", str(refused.exception))
                self.assertNotIn(marker, str(refused.exception))
        self.rule.with_user(self.manager).write({"webhook_url": "https://hooks.example/services/ok"})
        self.assertEqual(self.rule.webhook_url, "https://hooks.example/services/ok")
        self.rule.with_user(self.manager).write({"webhook_url": False})
        self.assertFalse(self.rule.webhook_url)

    def test_only_managers_set_a_webhook_url(self):
        user = new_test_user(
            self.env, "sf-webhook-user", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        for record, field in ((self.rule, "webhook_url"), (self.connection, "alert_webhook_url")):
            with self.subTest(field=field), self.assertRaises(AccessError), self.env.cr.savepoint():
                record.with_user(user).write({field: "https://hooks.example/services/mine"})
        self.assertFalse(self.rule.webhook_url)

    # -- what the log may hold when PostgreSQL refuses a statement --------------------------

    def assert_refused_quietly(self, marker, write, reason="refused for the test"):
        """``write`` fails for ``reason`` and no line of Odoo's log holds ``marker``; the log's lines."""
        with captured("odoo") as logged, self.assertRaises(psycopg2.Error) as refused, self.env.cr.savepoint():
            write()
            self.env.flush_all()
        self.assertIn(reason, str(refused.exception))
        self.assertFalse([line for line in logged if marker in line], logged)
        return logged

    def test_a_refused_update_of_a_rule_does_not_log_its_url(self):
        # As when the evaluation cron updates the rule's row while a manager saves it.
        marker = "SECRETruleUPDATE"
        refuse(self.env.cr, "shopfloor_alert_rule", "UPDATE")
        self.assert_refused_quietly(
            marker,
            lambda: self.rule.with_user(self.manager).write(
                {"webhook_kind": "slack", "webhook_url": f"https://hooks.example/services/{marker}", "threshold": 12}
            ),
        )

    def test_a_refused_update_of_a_connection_does_not_log_its_url(self):
        marker = "SECRETconnUPDATE"
        refuse(self.env.cr, "shopfloor_connection", "UPDATE")
        self.assert_refused_quietly(
            marker,
            lambda: self.connection.with_user(self.manager).write(
                {"alert_webhook_kind": "teams", "alert_webhook_url": f"https://hooks.example/wf/{marker}"}
            ),
        )

    def test_a_refused_new_rule_does_not_log_its_url(self):
        # A typo in another field of the same form (a negative N) fails the INSERT.
        marker = "SECRETruleINSERT"
        logged = self.assert_refused_quietly(
            marker,
            lambda: self.env["shopfloor.alert.rule"]
            .with_user(self.manager)
            .create(
                {
                    "connection_id": self.connection.id,
                    "kind": "dlq_count",
                    "threshold": -1,
                    "webhook_kind": "slack",
                    "webhook_url": f"https://hooks.example/services/{marker}",
                }
            ),
            reason="threshold_not_negative",
        )
        self.assertTrue(logged, "PostgreSQL refused the INSERT and Odoo logged it")

    def test_a_refused_delivery_does_not_log_its_url(self):
        marker = "SECRETdeliveryINSERT"
        refuse(self.env.cr, "shopfloor_alert_delivery", "INSERT")
        self.assert_refused_quietly(
            marker,
            lambda: self.env["shopfloor.alert.delivery"]
            .sudo()
            .create(
                {
                    "alert_id": self.alert.id,
                    "transition": "opened",
                    "kind": "slack",
                    "url": f"https://hooks.example/services/{marker}",
                    "payload": "{}",
                }
            ),
        )

    def test_quietly_stored_urls_read_back_and_copy(self):
        url = "https://hooks.example/services/T1/B2/readback"
        rule = (
            self.env["shopfloor.alert.rule"]
            .with_user(self.manager)
            .create(
                {
                    "connection_id": self.connection.id,
                    "kind": "dlq_count",
                    "threshold": 3,
                    "webhook_kind": "json",
                    "webhook_url": url,
                }
            )
        )
        self.assertEqual(rule.webhook_url, url)
        self.assertEqual(rule._webhook(), ("json", url))
        self.assertEqual(rule.copy().webhook_url, url)
        self.connection.with_user(self.manager).write({"alert_webhook_kind": "slack", "alert_webhook_url": url + "/c"})
        self.assertEqual(self.connection.alert_webhook_url, url + "/c")

    # -- what an earlier version wrote ----------------------------------------------------

    def test_migration_redacts_what_earlier_failures_wrote(self):
        path = Path(__file__).parent.parent / "migrations" / "18.0.0.5.0" / "post-webhook_errors.py"
        spec = importlib.util.spec_from_file_location("sfb_post_webhook_errors", path)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        marker = "SECRETbeforeUPGRADE"
        url = f"https://hooks.example/services/T1/{marker}'x?a=1&sig={marker}2"
        delivery = (
            self.env["shopfloor.alert.delivery"]
            .sudo()
            .create({"alert_id": self.alert.id, "transition": "opened", "kind": "slack", "url": url, "payload": "{}"})
        )
        # As 18.0.0.4.0 wrote them: requests' error as it came, on the delivery and in the chatter.
        old_error = (
            "Could not reach the receiver: HTTPSConnectionPool(host='hooks.example', port=443): Max retries "
            f"exceeded with url: /services/T1/{marker}'x?a=1&sig={marker}2 (Caused by NameResolutionError)"
        )
        self.env.cr.execute(
            "UPDATE shopfloor_alert_delivery SET last_error = %s WHERE id = %s", [old_error, delivery.id]
        )
        note = self.alert.message_post(body=f"Webhook (slack) failed, attempt 1 of 5: {old_error}")
        unrelated = self.alert.message_post(body="Nothing of the URL here")
        self.assertEqual(script.redact(self.env), (1, 1))
        self.assertNotIn(marker, delivery.last_error)
        self.assertIn("Could not reach the receiver", delivery.last_error)
        self.assertIn("url: …", delivery.last_error)
        self.assertNotIn(marker, str(note.body))
        self.assertIn("attempt 1 of 5", str(note.body))
        self.assertEqual(str(unrelated.body), "<p>Nothing of the URL here</p>")
        self.assertEqual(script.redact(self.env), (0, 0), "run again, nothing left to change")
