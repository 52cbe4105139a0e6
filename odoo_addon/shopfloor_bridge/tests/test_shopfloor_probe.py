"""Probes: an admin asks, the connection's sidecar pulls and answers, the form reads the answer or the expiry."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.shopfloor_probe import ANSWER_SECONDS, IDLE_POLL_MS, KEEP_SECONDS, PICKUP_SECONDS, QUICK_POLL_MS


@tagged("post_install", "-at_install")
class TestShopfloorProbe(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Connection = cls.env["shopfloor.connection"]
        cls.opcua = Connection.create(
            {"code": "probe-ua", "name": "Line 1 Ignition", "kind": "opcua", "opcua_endpoint": "opc.tcp://x:4840"}
        )
        cls.mqtt = Connection.create({"code": "probe-mqtt", "name": "Line 2 broker", "kind": "mqtt"})
        cls.admin_user = new_test_user(
            cls.env, "sf-probe-admin", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"
        )
        cls.plain_user = new_test_user(
            cls.env, "sf-probe-user", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        cls.mrp_admin = new_test_user(cls.env, "sf-probe-mrp", groups="base.group_user,mrp.group_mrp_manager")
        integration = "base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        cls.sidecar = new_test_user(cls.env, "sf-probe-sidecar", groups=integration)
        cls.other_sidecar = new_test_user(cls.env, "sf-probe-other-sidecar", groups=integration)
        cls.opcua.integration_user_ids = [(4, cls.sidecar.id)]
        cls.mqtt.integration_user_ids = [(4, cls.other_sidecar.id)]

    def ask(self, op="browse", target="", connection=None, user=None):
        Probe = self.env["shopfloor.probe"].with_user(user or self.admin_user)
        return Probe.request((connection or self.opcua).id, op, target)["id"]

    def status(self, probe_id, user=None):
        [answer] = self.env["shopfloor.probe"].with_user(user or self.admin_user).status([probe_id])
        return answer

    def pull(self, code="probe-ua", user=None):
        return self.env["shopfloor.probe"].with_user(user or self.sidecar).pull(code, 20)

    def test_request_pull_answer_status(self):
        probe_id = self.ask("browse", " ns=2;s=[default]Line1 ")
        self.assertEqual(self.status(probe_id)["state"], "pending")
        pulled = self.pull()
        self.assertEqual(pulled["requests"], [{"id": probe_id, "op": "browse", "target": "ns=2;s=[default]Line1"}])
        self.assertEqual(pulled["poll_ms"], QUICK_POLL_MS)
        self.assertEqual(self.status(probe_id)["state"], "taken")
        # Taken once: the next pull does not hand it out again.
        self.assertEqual(self.pull()["requests"], [])
        children = [{"node_id": "ns=2;s=[default]Line1/Press", "node_class": "Object", "display_name": "Press"}]
        self.assertIs(
            self.env["shopfloor.probe"]
            .with_user(self.sidecar)
            .answer([{"id": probe_id, "ok": True, "result": {"children": children}}]),
            True,
        )
        answer = self.status(probe_id)
        self.assertEqual(answer["state"], "done")
        self.assertEqual(answer["result"], {"children": children})
        self.assertGreaterEqual(answer["answer_ms"], 0)

    def test_an_error_is_an_answer(self):
        probe_id = self.ask("read", "ns=2;s=Nowhere")
        self.pull()
        self.env["shopfloor.probe"].with_user(self.sidecar).answer(
            [{"id": probe_id, "ok": False, "code": "unknown_node", "error": "ns=2;s=Nowhere: BadNodeIdUnknown"}]
        )
        answer = self.status(probe_id)
        self.assertEqual(
            (answer["state"], answer["error_code"], answer["error"]),
            ("failed", "unknown_node", "ns=2;s=Nowhere: BadNodeIdUnknown"),
        )
        self.assertFalse(answer["result"])

    def test_a_sidecar_that_never_reported_is_named(self):
        probe_id = self.ask()
        self.env["shopfloor.probe"].browse(probe_id).requested_epoch -= PICKUP_SECONDS + 1
        answer = self.status(probe_id)
        self.assertEqual((answer["state"], answer["error_code"]), ("expired", "no_sidecar"))
        self.assertIn("No answer from the sidecar of connection probe-ua", answer["error"])
        self.assertIn("never reported", answer["error"])
        # Expired: the sidecar no longer gets it.
        self.assertEqual(self.pull()["requests"], [])

    def test_a_silent_sidecar_is_named_with_its_last_report(self):
        self.env["shopfloor.connection"].with_user(self.sidecar).heartbeat("probe-ua", {})
        self.opcua.invalidate_recordset(["last_seen"])
        seen = self.opcua.last_seen
        self.assertTrue(seen)
        probe_id = self.ask()
        self.env["shopfloor.probe"].browse(probe_id).requested_epoch -= PICKUP_SECONDS + 1
        answer = self.status(probe_id)
        self.assertEqual(answer["state"], "expired")
        self.assertIn("it last reported at", answer["error"])
        self.assertIn(str(seen.year), answer["error"])

    def test_taken_but_never_answered_expires(self):
        probe_id = self.ask("read", "ns=2;s=Slow")
        self.pull()
        self.env["shopfloor.probe"].browse(probe_id).taken_epoch -= ANSWER_SECONDS + 1
        answer = self.status(probe_id)
        self.assertEqual((answer["state"], answer["error_code"]), ("expired", "no_answer"))
        self.assertIn("took the request but gave no answer", answer["error"])
        # A late answer changes nothing: the form has moved on.
        self.env["shopfloor.probe"].with_user(self.sidecar).answer([{"id": probe_id, "ok": True, "result": 1}])
        self.assertEqual(self.status(probe_id)["state"], "expired")

    def test_idle_pace_when_nobody_asked_lately(self):
        self.assertEqual(self.pull(), {"requests": [], "poll_ms": IDLE_POLL_MS})
        probe_id = self.ask()
        self.pull()
        self.assertEqual(self.pull()["poll_ms"], QUICK_POLL_MS)
        self.env["shopfloor.probe"].browse(probe_id).requested_epoch -= 61
        self.assertEqual(self.pull()["poll_ms"], IDLE_POLL_MS)

    def test_an_answer_too_large_fails_clearly(self):
        probe_id = self.ask()
        self.pull()
        self.env["shopfloor.probe"].with_user(self.sidecar).answer(
            [{"id": probe_id, "ok": True, "result": "x" * (1024 * 1024 + 1)}]
        )
        answer = self.status(probe_id)
        self.assertEqual((answer["state"], answer["error_code"]), ("failed", "too_large"))

    def test_only_managers_ask(self):
        for user in (self.plain_user, self.mrp_admin, self.sidecar):
            with self.assertRaisesRegex(AccessError, "Only Shop Floor Bridge managers"):
                self.ask(user=user)
        probe_id = self.ask()
        with self.assertRaisesRegex(AccessError, "Only Shop Floor Bridge managers"):
            self.status(probe_id, user=self.plain_user)
        with self.assertRaises(AccessError):
            self.env["shopfloor.probe"].with_user(self.plain_user).browse(probe_id).read(["result_json"])
        with self.assertRaises(AccessError):
            self.env["shopfloor.probe"].with_user(self.admin_user).browse(probe_id).write({"state": "done"})

    def test_only_the_connections_sidecar_pulls_and_answers(self):
        probe_id = self.ask()
        for user in (self.admin_user, self.plain_user):
            with self.assertRaisesRegex(AccessError, "may not call the Shop Floor Bridge sidecar API"):
                self.pull(user=user)
        with self.assertRaisesRegex(AccessError, "may not act for connection probe-ua"):
            self.pull(user=self.other_sidecar)
        with self.assertRaisesRegex(AccessError, "may not act for connection probe-ua"):
            self.env["shopfloor.probe"].with_user(self.other_sidecar).answer(
                [{"id": probe_id, "ok": True, "result": "forged"}]
            )
        self.assertEqual(self.status(probe_id)["state"], "pending")

    def test_kinds_without_an_answer_are_refused_at_once(self):
        with self.assertRaisesRegex(UserError, "probe-mqtt is a MQTT .* no address space to browse"):
            self.ask("browse", connection=self.mqtt)
        with self.assertRaisesRegex(UserError, "reads nothing once"):
            self.ask("read", "x", connection=self.mqtt)
        with self.assertRaisesRegex(UserError, "Unknown probe operation"):
            self.ask("write", "x")
        with self.assertRaisesRegex(UserError, "No connection"):
            self.env["shopfloor.probe"].with_user(self.admin_user).request(2**40, "browse", "")
        self.opcua.active = False
        with self.assertRaisesRegex(UserError, "archived"):
            self.ask()

    def test_another_companys_connection_and_requests_are_out_of_reach(self):
        other = self.env["res.company"].create({"name": "Other plant"})
        connection = self.env["shopfloor.connection"].create(
            {"code": "probe-other", "name": "Other", "kind": "opcua", "company_id": other.id}
        )
        with self.assertRaises(AccessError):
            self.ask(connection=connection)
        foreign = self.env["shopfloor.probe"].create({"connection_id": connection.id, "op": "browse"})
        self.assertEqual(self.env["shopfloor.probe"].with_user(self.admin_user).status([foreign.id]), [])

    def test_old_probes_are_vacuumed(self):
        old, fresh = self.ask(), self.ask()
        self.env["shopfloor.probe"].browse(old).requested_epoch -= KEEP_SECONDS + 1
        self.env["shopfloor.probe"]._gc_probes()
        self.assertEqual(self.env["shopfloor.probe"].browse([old, fresh]).exists().ids, [fresh])
