from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestSecurity(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plain = new_test_user(cls.env, "sf-plain", groups="base.group_user,mrp.group_mrp_user")
        cls.reader = new_test_user(
            cls.env, "sf-user", groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        cls.manager = new_test_user(
            cls.env,
            "sf-mgr",
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        cls.sidecar = new_test_user(
            cls.env, "sf-sidecar", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        )
        cls.connection.integration_user_ids = [(4, cls.sidecar.id)]

    def event(self):
        return self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"})

    def test_plain_user_cannot_call_the_api(self):
        for call in (
            lambda: self.env["shopfloor.event"].with_user(self.plain).ingest([self.event()]),
            lambda: self.env["shopfloor.connection"].with_user(self.plain).sidecar_config("test-conn"),
            lambda: self.env["shopfloor.connection"].with_user(self.plain).heartbeat("test-conn", {}),
            lambda: self.env["shopfloor.event"].with_user(self.reader).ingest([self.event()]),
        ):
            with self.assertRaisesRegex(
                AccessError, "may not (call the Shop Floor Bridge sidecar API|act for connection test-conn)"
            ):
                call()
        self.assertFalse(self.env["shopfloor.event"].search([]))

    def test_integration_user_ingests_and_sees_no_menu(self):
        [result] = self.env["shopfloor.event"].with_user(self.sidecar).ingest([self.event()])
        self.assertEqual(result["status"], "applied", result["error"])
        event = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(event.create_uid, self.sidecar)
        config = self.env["shopfloor.connection"].with_user(self.sidecar).sidecar_config("test-conn")
        self.assertEqual(config["code"], "test-conn")
        visible = self.env["ir.ui.menu"].with_user(self.sidecar)._visible_menu_ids()
        for xmlid in (
            "shopfloor_bridge_menu_root",
            "shopfloor_event_menu",
            "shopfloor_event_menu_dlq",
            "shopfloor_connection_menu",
            "shopfloor_source_map_menu",
        ):
            self.assertNotIn(self.env.ref(f"shopfloor_bridge.{xmlid}").id, visible, xmlid)
        # What the web client shows: no menu of this module at all.
        shown = self.env["ir.ui.menu"].with_user(self.sidecar).load_menus(debug=False)
        ours = [m["xmlid"] for m in shown.values() if str(m.get("xmlid", "")).startswith("shopfloor_bridge.")]
        self.assertEqual(ours, [])
        with self.assertRaises(AccessError):
            self.env["shopfloor.source.map"].with_user(self.sidecar).create(
                {"connection_id": self.connection.id, "source": "x", "workcenter_id": self.wc_press1.id}
            )

    def test_user_reads_but_cannot_edit_mappings_or_act_on_dlq(self):
        [result] = self.ingest(self.make_event("bogus.type", {}))
        event = self.env["shopfloor.event"].with_user(self.reader).browse(result["event_id"])
        self.assertEqual(event.state, "rejected")
        source_map = self.connection.source_map_ids[:1].with_user(self.reader)
        self.assertTrue(source_map.source)
        with self.assertRaises(AccessError):
            source_map.write({"source": "changed"})
        with self.assertRaises(AccessError):
            self.env["shopfloor.reason.map"].with_user(self.reader).create(
                {"connection_id": self.connection.id, "code": "NEW", "loss_id": self.loss_setup.id}
            )
        with self.assertRaises(AccessError):
            self.connection.with_user(self.reader).write({"batch_size": 10})
        for action in (
            event.action_retry,
            lambda: event.action_discard("x"),
            lambda: event.env["shopfloor.event"].dlq_bulk([], "retry"),
        ):
            with self.assertRaisesRegex(AccessError, "Only Shop Floor Bridge managers"):
                action()
        menus = self.env["ir.ui.menu"].with_user(self.reader)._visible_menu_ids()
        self.assertIn(self.env.ref("shopfloor_bridge.shopfloor_event_menu_dlq").id, menus)
        self.assertNotIn(self.env.ref("shopfloor_bridge.shopfloor_connection_menu").id, menus)

    def test_manager_edits_mappings_and_discards(self):
        [result] = self.ingest(self.make_event("bogus.type", {}))
        event = self.env["shopfloor.event"].with_user(self.manager).browse(result["event_id"])
        event.action_discard("wrong plant")
        self.assertEqual(event.state, "discarded")
        self.assertEqual(event.history_ids.filtered(lambda h: h.action == "discard").user_id, self.manager)
        self.env["shopfloor.source.map"].with_user(self.manager).create(
            {"connection_id": self.connection.id, "source": "plant1/new", "workcenter_id": self.wc_press1.id}
        )
        menus = self.env["ir.ui.menu"].with_user(self.manager)._visible_menu_ids()
        self.assertIn(self.env.ref("shopfloor_bridge.shopfloor_source_map_menu").id, menus)

    def test_multi_company_isolation(self):
        company_b = self.env["res.company"].create({"name": "Plant B Inc."})
        manager_b = new_test_user(
            self.env,
            "sf-mgr-b",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
            groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        sidecar_b = new_test_user(
            self.env,
            "sf-sidecar-b",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
            groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration",
        )
        connection_b = self.env["shopfloor.connection"].create(
            {
                "code": "plant-b",
                "name": "Plant B",
                "company_id": company_b.id,
                "integration_user_ids": [(4, sidecar_b.id)],
            }
        )
        [result_a] = self.ingest(self.event())
        # B sees none of A's connections, mappings or events.
        as_b = self.env["shopfloor.event"].with_user(manager_b)
        self.assertFalse(as_b.search([]))
        self.assertEqual(self.env["shopfloor.connection"].with_user(manager_b).search([]), connection_b)
        self.assertFalse(self.env["shopfloor.source.map"].with_user(manager_b).search([]))
        with self.assertRaises(AccessError):
            as_b.browse(result_a["event_id"]).read(["state"])
        # B's sidecar cannot use A's connection: not found for it.
        with self.assertRaisesRegex(Exception, "No active shop-floor connection with code 'test-conn'"):
            self.env["shopfloor.connection"].with_user(sidecar_b).sidecar_config("test-conn")
        event = self.event()
        [result_b] = self.env["shopfloor.event"].with_user(sidecar_b).ingest([event])
        stored = self.env["shopfloor.event"].browse(result_b["event_id"])
        # Stored, refused, under B's own connection: A's plant never sees it.
        self.assertEqual(stored.company_id, company_b)
        self.assertEqual(stored.connection_id, connection_b)
        self.assertEqual((result_b["status"], stored.state, stored.error_class), ("rejected", "rejected", "forbidden"))
        self.assertIn("test-conn", result_b["error"])
        self.assertFalse(stored.workcenter_id)
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), 1)
