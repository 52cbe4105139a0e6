"""Planning push-back: triggers, coalescing, supersede, pull/ack, access.

``self.env.cr.flush()`` stands for the commit of a request: it runs the
precommit hook that turns dirty work centers into messages.
"""

import json
import time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestDispatch(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection.write({"dispatch_settle_ms": 0, "dispatch_max_hold_ms": 0})
        Target = cls.env["shopfloor.dispatch.target"]
        cls.target_press = Target.create(
            {
                "connection_id": cls.connection.id,
                "workcenter_id": cls.wc_press1.id,
                "kind": "opcua",
                "depth": 3,
                "line_code": "Line1",
            }
        )
        cls.target_assembly = Target.create(
            {
                "connection_id": cls.connection.id,
                "workcenter_id": cls.wc_assembly1.id,
                "kind": "mqtt",
                "depth": 2,
            }
        )
        cls.planner = new_test_user(cls.env, "sf-planner", groups="base.group_user,mrp.group_mrp_manager")
        cls.operator = new_test_user(cls.env, "sf-operator", groups="base.group_user,mrp.group_mrp_user")
        cls.sidecar = new_test_user(
            cls.env, "sf-dispatch-sidecar", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        )
        cls.connection.integration_user_ids = [(4, cls.sidecar.id)]
        cls.env.cr.flush()

    def commit(self):
        self.env.cr.flush()

    def messages(self, target=None, states=None):
        domain = [("target_id", "=", (target or self.target_press).id)]
        if states:
            domain.append(("state", "in", states))
        return self.env["shopfloor.dispatch"].search(domain, order="id")

    def pull(self, limit=50, user=None):
        Dispatch = self.env["shopfloor.dispatch"]
        return (Dispatch.with_user(user) if user else Dispatch).pull("test-conn", limit)

    def payload(self, message):
        return json.loads(message.payload_json)

    def orders(self, message):
        return [entry["order"] for entry in self.payload(message)["queue"]]

    def clear(self):
        """Acks everything outstanding so each test starts from a quiet floor."""
        self.commit()
        pulled = self.pull()
        if pulled:
            self.env["shopfloor.dispatch"].ack([{"id": m["id"], "status": "acked", "error": ""} for m in pulled])

    # ------------------------------------------------------------- triggers

    def test_priority_change_builds_the_queue_urgent_first(self):
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.reason, "priority")
        self.assertEqual(message.production_id, self.mo2)
        self.assertEqual(self.orders(message)[:2], [self.mo2.name, self.mo1.name])
        payload = self.payload(message)
        self.assertEqual(payload["version"], message.version)
        self.assertEqual(payload["workcenter"], "L1-PRESS")
        self.assertEqual(payload["depth"], 3)
        first = payload["queue"][0]
        self.assertEqual(first["priority"], 1)
        self.assertEqual(first["product"], self.product_bracket.display_name)
        self.assertEqual(first["uom"], self.uom_unit.name)
        self.assertEqual(first["qty"], 100)
        self.assertTrue(first["start"].endswith("Z"))
        self.assertEqual(payload["changed"]["order"], self.mo2.name)
        # The assembly work center queues the same MOs: it gets its own message.
        self.assertEqual(len(self.messages(self.target_assembly, ["pending"])), 1)
        self.assertEqual(self.wc_press1.shopfloor_dispatch_version, message.version)

    def test_writing_the_same_priority_sends_nothing(self):
        self.clear()
        self.mo1.priority = self.mo1.priority
        self.commit()
        self.assertFalse(self.messages(states=["pending"]))

    def test_confirm_adds_the_order_to_the_queue(self):
        self.clear()
        production = self.env["mrp.production"].create(
            {"product_id": self.product_bracket.id, "bom_id": self.bom.id, "product_qty": 7}
        )
        self.commit()
        self.assertFalse(self.messages(states=["pending"]), "a draft MO is not on the floor")
        production.action_confirm()
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertIn("confirm", message.reason)
        self.assertIn(production.name, self.orders(message))
        entry = next(e for e in self.payload(message)["queue"] if e["order"] == production.name)
        self.assertEqual(entry["qty"], 7)

    def test_cancel_removes_the_order_and_names_it(self):
        self.clear()
        self.mo1.action_cancel()
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.reason, "cancel")
        self.assertNotIn(self.mo1.name, self.orders(message))
        changed = self.payload(message)["changed"]
        self.assertEqual((changed["order"], changed["state"], changed["slot"]), (self.mo1.name, "cancel", -1))

    def test_planned_start_change_reorders(self):
        self.clear()
        earlier = min(self.mo1.date_start, self.mo2.date_start).replace(year=2025)
        self.mo2.date_start = earlier
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.reason, "planned_dates")
        self.assertEqual(self.orders(message)[:2], [self.mo2.name, self.mo1.name])
        self.assertTrue(self.payload(message)["queue"][0]["start"].startswith("2025-"))

    def test_workorder_sequence_change_reorders(self):
        wo1, wo2 = self.workorder_of(self.mo1, "Cutting"), self.workorder_of(self.mo2, "Cutting")
        same_start = self.at(minutes=30)
        (wo1 | wo2).write({"date_start": same_start, "date_finished": self.at(minutes=90)})
        self.clear()
        wo2.sequence = min(wo1.sequence, wo2.sequence) - 1
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.reason, "sequence")
        self.assertEqual(self.orders(message)[:2], [self.mo2.name, self.mo1.name])

    def test_reschedule_by_planning(self):
        self.clear()
        self.mo2.button_plan()
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.reason, "reschedule")
        planned = self.workorder_of(self.mo2, "Cutting").date_start
        entry = next(e for e in self.payload(message)["queue"] if e["order"] == self.mo2.name)
        self.assertEqual(entry["start"][:19], planned.strftime("%Y-%m-%dT%H:%M:%S"))

    def test_a_new_target_gets_the_current_queue(self):
        target = self.env["shopfloor.dispatch.target"].create(
            {
                "connection_id": self.connection.id,
                "workcenter_id": self.wc_press1.id,
                "kind": "mqtt",
                "depth": 1,
            }
        )
        self.commit()
        [message] = self.messages(target, ["pending"])
        self.assertEqual(message.reason, "target")
        self.assertEqual(self.orders(message), [self.mo1.name])

    def test_an_operator_change_reaches_the_floor(self):
        """The trigger runs with elevated rights: the operator needs no access to dispatch messages."""
        self.clear()
        self.mo2.with_user(self.operator).write({"priority": "1"})
        self.commit()
        self.assertEqual(len(self.messages(states=["pending"])), 1)

    # ----------------------------------------------------- coalescing / supersede

    def test_a_burst_of_changes_makes_one_up_to_date_message(self):
        self.clear()
        start_version = self.wc_press1.shopfloor_dispatch_version
        for n in range(50):
            self.mo1.priority = "1" if n % 2 == 0 else "0"
            self.commit()  # 50 separate requests
        self.mo2.priority = "1"
        self.mo1.priority = "0"  # already "0": no change, not counted
        self.commit()
        [message] = self.messages(states=["pending"])
        self.assertEqual(message.change_count, 51)
        self.assertGreater(message.version, start_version)
        self.assertEqual(self.payload(message)["version"], message.version)
        self.assertEqual(self.orders(message)[0], self.mo2.name)
        self.assertEqual(self.payload(message)["queue"][0]["priority"], 1)
        self.assertEqual(len(self.messages(self.target_assembly, ["pending"])), 1)

    def test_many_changes_in_one_request_build_one_message(self):
        self.clear()
        before = self.wc_press1.shopfloor_dispatch_version
        for n in range(20):
            self.mo1.priority = "1" if n % 2 == 0 else "0"
            self.mo2.date_start = self.at(minutes=n)
        self.commit()
        self.assertEqual(len(self.messages(states=["pending"])), 1)
        self.assertEqual(self.wc_press1.shopfloor_dispatch_version, before + 1)

    def test_a_failed_message_is_superseded_by_a_newer_queue(self):
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        [pulled] = [m for m in self.pull() if m["workcenter"] == "L1-PRESS"]
        self.env["shopfloor.dispatch"].ack(
            [{"id": pulled["id"], "status": "failed", "error": "BadTimeout", "retryable": True}]
        )
        failed = self.env["shopfloor.dispatch"].browse(pulled["id"])
        self.assertEqual(failed.state, "failed")
        self.mo2.priority = "0"
        self.commit()
        [newer] = self.messages(states=["pending"])
        self.assertEqual(failed.state, "superseded")
        self.assertEqual(failed.superseded_by_id, newer)
        failed.next_retry_epoch = 1  # even if its retry were due, it is never sent
        ids = [m["id"] for m in self.pull()]
        self.assertIn(newer.id, ids)
        self.assertNotIn(failed.id, ids)

    def test_pull_sends_only_the_newest_of_a_target(self):
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        [newest] = self.messages(states=["pending"])
        # Two requests racing can both create a pending message; the older must not reach the floor.
        older = newest.copy({"version": newest.version - 1, "target_id": self.target_press.id})
        older.write({"state": "pending", "last_change_epoch": 1, "first_change_epoch": 1})
        pulled = [m for m in self.pull() if m["workcenter"] == "L1-PRESS"]
        self.assertEqual([m["id"] for m in pulled], [newest.id])
        self.assertEqual(older.state, "superseded")

    # ---------------------------------------------------------------- pull / ack

    def test_pull_returns_dispatch_messages_and_marks_them_sent(self):
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        pulled = {m["workcenter"]: m for m in self.pull(user=self.sidecar)}
        self.assertEqual(set(pulled), {"L1-PRESS", "L1-ASSY"})
        press = pulled["L1-PRESS"]
        self.assertEqual(set(press), {"id", "workcenter", "version", "target", "payload"})
        self.assertEqual(press["target"]["kind"], "opcua")
        slots = press["target"]["params"]["slots"]
        self.assertEqual(len(slots), 3)
        self.assertEqual(slots[1]["priority"], "ns=2;s=[default]Shopfloor/Line1/Queue/1/Priority")
        self.assertEqual(press["target"]["params"]["queue_json"], "ns=2;s=[default]Shopfloor/Line1/QueueJson")
        self.assertEqual(press["target"]["params"]["version"], "")
        self.assertEqual(pulled["L1-ASSY"]["target"]["params"]["topic"], "shopfloor/L1-ASSY/queue")
        self.assertEqual(press["payload"]["queue"][0]["order"], self.mo2.name)
        message = self.env["shopfloor.dispatch"].browse(press["id"])
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.sent_at)
        self.assertEqual(self.pull(), [], "a sent message is not offered again at once")

        self.assertIs(
            self.env["shopfloor.dispatch"]
            .with_user(self.sidecar)
            .ack([{"id": press["id"], "status": "acked", "error": ""}]),
            True,
        )
        self.assertEqual(message.state, "acked")
        self.assertTrue(message.acked_at)

    def test_failed_write_is_retried_with_backoff_then_given_up(self):
        self.clear()
        self.connection.dispatch_max_attempts = 3
        self.mo2.priority = "1"
        self.commit()
        [press] = [m for m in self.pull() if m["workcenter"] == "L1-PRESS"]
        message = self.env["shopfloor.dispatch"].browse(press["id"])
        for attempt in (1, 2, 3):
            self.env["shopfloor.dispatch"].ack(
                [
                    {
                        "id": press["id"],
                        "status": "failed",
                        "error": "OPC UA opc.tcp://plc:4840: cannot connect",
                        "retryable": True,
                    }
                ]
            )
            self.assertEqual((message.state, message.retry_count), ("failed", attempt))
            if attempt < 3:
                self.assertTrue(message.next_retry_at)
                self.assertGreater(message.next_retry_epoch, time.time())
                self.assertEqual(self.pull(), [], "not before its backoff")
                message.next_retry_epoch = time.time() - 1
                [again] = self.pull()
                self.assertEqual(again["id"], message.id)
        self.assertFalse(message.next_retry_at)
        self.assertIn("gave up after 3 attempts", message.error)
        message.next_retry_epoch = 1
        self.assertEqual(self.pull(), [])

    def test_rejected_write_fails_with_the_floor_reason_and_is_not_retried(self):
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        [press] = [m for m in self.pull() if m["workcenter"] == "L1-PRESS"]
        reason = "BadUserAccessDenied (write ns=2;s=[default]Shopfloor/Line1/Queue/0/Order: BadUserAccessDenied)"
        self.env["shopfloor.dispatch"].ack(
            [{"id": press["id"], "status": "failed", "error": reason, "retryable": False}]
        )
        message = self.env["shopfloor.dispatch"].browse(press["id"])
        self.assertEqual((message.state, message.error, message.retry_count), ("failed", reason, 1))
        self.assertFalse(message.next_retry_at)
        self.assertEqual(self.pull(), [])
        # A planner fixes the tag's rights and retries by hand.
        message.with_user(self.planner).action_retry()
        [again] = self.pull()
        self.assertEqual(again["id"], message.id)

    def test_settle_window_holds_a_changing_queue(self):
        self.clear()
        self.connection.write({"dispatch_settle_ms": 60_000, "dispatch_max_hold_ms": 120_000})
        self.mo2.priority = "1"
        self.commit()
        self.assertEqual(self.pull(), [], "still settling")
        [message] = self.messages(states=["pending"])
        message.first_change_epoch = time.time() - 121
        self.assertEqual(
            [m["id"] for m in self.pull() if m["workcenter"] == "L1-PRESS"],
            [message.id],
            "held no longer than max hold",
        )

    def test_ack_skips_garbage_and_unknown_ids_but_keeps_the_rest(self):
        Dispatch = self.env["shopfloor.dispatch"]
        with self.assertRaisesRegex(UserError, "expects a list"):
            Dispatch.ack({"id": 1})
        self.assertIs(Dispatch.ack([]), True)
        self.clear()
        self.mo2.priority = "1"
        self.commit()
        [press] = [m for m in self.pull() if m["workcenter"] == "L1-PRESS"]
        # Garbage and unknown ids are logged and skipped; the valid outcome in the same batch is kept.
        with self.assertLogs("odoo.addons.shopfloor_bridge.models.shopfloor_dispatch", "WARNING") as logs:
            self.assertIs(
                Dispatch.ack(
                    [
                        {"id": 1, "status": "done"},
                        {"id": 999999999, "status": "acked", "error": ""},
                        {"id": press["id"], "status": "acked", "error": ""},
                    ]
                ),
                True,
            )
        self.assertIn("is not {id, status", logs.output[0])
        self.assertIn("no dispatch message 999999999", logs.output[0])
        self.assertEqual(Dispatch.browse(press["id"]).state, "acked")

    def test_sidecar_config_lists_the_targets(self):
        config = self.env["shopfloor.connection"].sidecar_config("test-conn")
        targets = {t["workcenter"]: t for t in config["dispatch"]["targets"]}
        self.assertEqual(targets["L1-PRESS"]["kind"], "opcua")
        self.assertEqual(targets["L1-ASSY"]["params"], {"url": "", "topic": "shopfloor/L1-ASSY/queue"})
        self.assertEqual(config["dispatch"]["poll_interval_ms"], self.connection.dispatch_poll_interval_ms)

    def test_target_validation(self):
        Target = self.env["shopfloor.dispatch.target"]
        with self.assertRaisesRegex(ValidationError, "slot"):
            Target.create(
                {
                    "connection_id": self.connection.id,
                    "workcenter_id": self.wc_press2.id,
                    "kind": "opcua",
                    "opcua_node_template": "ns=2;s=Fixed",
                }
            )
        with self.assertRaisesRegex(ValidationError, "wildcard"):
            Target.create(
                {
                    "connection_id": self.connection.id,
                    "workcenter_id": self.wc_press2.id,
                    "kind": "mqtt",
                    "mqtt_topic": "plant/#",
                }
            )
        with self.assertRaisesRegex(ValidationError, "Group id"):
            Target.create(
                {"connection_id": self.connection.id, "workcenter_id": self.wc_press2.id, "kind": "sparkplug"}
            )
        # What a broker may refuse in any topic: Mosquitto drops the writer's connection for it.
        spare = self.env["mrp.workcenter"].create({"name": "Spare press", "code": "SPARE"})
        base = {"connection_id": self.connection.id, "workcenter_id": spare.id}
        for values, message in (
            ({"kind": "mqtt", "mqtt_topic": "plant/queue\x7f"}, "(here U+007F)"),
            ({"kind": "mqtt", "mqtt_topic": "plant/\ufffe"}, "(here U+FFFE)"),
            ({"kind": "sparkplug", "sparkplug_group_id": "P1", "sparkplug_edge_node_id": "edge\x85"}, "(here U+0085)"),
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError) as caught, self.cr.savepoint():
                Target.create({**base, **values})
            self.assertIn(message, str(caught.exception))

    # ------------------------------------------------------------------ access

    def test_only_planners_push_and_only_the_sidecar_pulls(self):
        self.clear()
        with self.assertRaisesRegex(AccessError, "Only planners"):
            self.wc_press1.with_user(self.operator).action_shopfloor_push_queue()
        with self.assertRaisesRegex(AccessError, "Only planners"):
            self.wc_press1.with_user(self.sidecar).action_shopfloor_push_queue()
        for call in (
            lambda: self.pull(user=self.operator),
            lambda: self.env["shopfloor.dispatch"].with_user(self.operator).ack([]),
            lambda: self.pull(user=self.planner),
        ):
            with self.assertRaisesRegex(AccessError, "may not call the Shop Floor Bridge sidecar API"):
                call()
        with self.assertRaises(AccessError):
            self.env["shopfloor.dispatch"].with_user(self.operator).search([]).write({"state": "acked"})
        result = self.wc_press1.with_user(self.planner).action_shopfloor_push_queue()
        self.assertEqual(result["params"]["type"], "success")
        [message] = self.messages(states=["pending"])
        self.assertTrue(message.forced)
        self.assertEqual(message.reason, "manual")
        self.assertEqual(self.orders(message)[:2], [self.mo1.name, self.mo2.name])
        with self.assertRaisesRegex(UserError, "No floor target"):
            self.wc_press2.with_user(self.planner).action_shopfloor_push_queue()

    def test_other_companies_messages_are_out_of_reach(self):
        other = self.env["res.company"].create({"name": "Other plant"})
        connection = self.env["shopfloor.connection"].create(
            {"code": "other-conn", "name": "Other", "kind": "mqtt", "company_id": other.id}
        )
        workcenter = self.env["mrp.workcenter"].create(
            {"name": "Other press", "company_id": other.id, "resource_calendar_id": other.resource_calendar_id.id}
        )
        target = self.env["shopfloor.dispatch.target"].create(
            {"connection_id": connection.id, "workcenter_id": workcenter.id, "kind": "mqtt"}
        )
        message = self.env["shopfloor.dispatch"].create({"target_id": target.id, "version": 1, "payload_json": "{}"})
        as_sidecar = self.env["shopfloor.dispatch"].with_user(self.sidecar)
        # Another connection's message: refused as a whole, naming the connection; nothing changes.
        with self.assertRaisesRegex(AccessError, "may not act for connection other-conn"):
            as_sidecar.ack([{"id": message.id, "status": "acked", "error": ""}])
        self.assertEqual(message.state, "pending")
