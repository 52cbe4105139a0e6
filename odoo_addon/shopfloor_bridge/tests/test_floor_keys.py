"""Floor identifiers are scoped per connection (and so per company).

Two plants — two connections of one company, and a connection of another
company — send the same hold ids and downtime ids; every event goes through
``ingest`` with its connection code. Plant 2 watches the line-1 press too (a
second system on the same machine), so the ids meet on one work center.
Then least privilege on holds: who may release, hold or read them, and which
fields no plain write may change.
"""

import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user
from odoo.tools import mute_logger

from .common import ShopfloorCase

PLANT1 = "test-conn"
PLANT2 = "plant-2"
COMPANY_B = "plant-b"
PLANT1_PRESS1 = "plant1/line1/press-01"
PLANT1_PRESS2 = "plant1/line2/press-02"
PLANT2_PRESS1 = "plant2/shared/press-01"
PLANT2_PRESS2 = "plant2/line2/press-02"
COMPANY_B_PRESS = "plantb/line1/press"


class TestFloorKeys(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.plant2 = env["shopfloor.connection"].create(
            {"code": PLANT2, "name": "Plant 2 line controller", "kind": "mqtt", "company_id": cls.company.id}
        )
        env["shopfloor.source.map"].create(
            [
                {"connection_id": cls.plant2.id, "source": PLANT2_PRESS1, "workcenter_id": cls.wc_press1.id},
                {"connection_id": cls.plant2.id, "source": PLANT2_PRESS2, "workcenter_id": cls.wc_press2.id},
            ]
        )
        env["shopfloor.reason.map"].create(
            [
                {"connection_id": cls.plant2.id, "code": "BRK", "loss_id": cls.loss_breakdown.id},
                {"connection_id": cls.plant2.id, "code": "MAT", "loss_id": cls.loss_material.id},
            ]
        )

        cls.company_b = env["res.company"].create({"name": "Plant B Inc."})
        cls.connection_b = env["shopfloor.connection"].create(
            {"code": COMPANY_B, "name": "Plant B MQTT", "kind": "mqtt", "company_id": cls.company_b.id}
        )
        cls.wc_b = (
            env["mrp.workcenter"]
            .with_company(cls.company_b)
            .create(
                {
                    "name": "Press B",
                    "code": "B-PRESS",
                    "costs_hour": 50.0,
                    "company_id": cls.company_b.id,
                    "resource_calendar_id": cls.company_b.resource_calendar_id.id,
                }
            )
        )
        env["shopfloor.source.map"].create(
            {"connection_id": cls.connection_b.id, "source": COMPANY_B_PRESS, "workcenter_id": cls.wc_b.id}
        )
        env["shopfloor.reason.map"].create(
            {"connection_id": cls.connection_b.id, "code": "BRK", "loss_id": cls.loss_breakdown.id}
        )
        bom_b = (
            env["mrp.bom"]
            .with_company(cls.company_b)
            .create(
                {
                    "product_tmpl_id": cls.product_bracket.product_tmpl_id.id,
                    "product_qty": 1.0,
                    "company_id": cls.company_b.id,
                    "operation_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Cutting",
                                "workcenter_id": cls.wc_b.id,
                                "time_mode": "manual",
                                "time_cycle_manual": 1.5,
                            },
                        )
                    ],
                }
            )
        )
        cls.mo_b = (
            env["mrp.production"]
            .with_company(cls.company_b)
            .create(
                {
                    "product_id": cls.product_bracket.id,
                    "bom_id": bom_b.id,
                    "product_qty": 10,
                    "company_id": cls.company_b.id,
                }
            )
        )
        cls.mo_b.action_confirm()

        both = [(6, 0, (cls.company | cls.company_b).ids)]
        cls.manager_a = new_test_user(
            env,
            "floor-keys-manager-a",
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        cls.manager_b = new_test_user(
            env,
            "floor-keys-manager-b",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        cls.mrp_manager = new_test_user(
            env,
            "floor-keys-mrp-manager",
            company_id=cls.company.id,
            company_ids=both,
            groups="base.group_user,mrp.group_mrp_manager",
        )
        cls.operator = new_test_user(
            env,
            "floor-keys-operator",
            company_id=cls.company.id,
            company_ids=[(6, 0, cls.company.ids)],
            groups="base.group_user,mrp.group_mrp_user",
        )

    # -- helpers ----------------------------------------------------------------

    def send(self, connection, source, type, minutes, **data):
        """Ingest one event of ``connection`` (a code) and return (result, event record)."""
        return self.ingest_one(self.make_event(type, data, source=source, time=self.at(minutes), connection=connection))

    def holds(self, hold_ref, **domain):
        extra = [(name, "=", value) for name, value in domain.items()]
        return self.env["shopfloor.hold"].search([("hold_ref", "=", hold_ref), *extra])

    def downtime_logs(self, downtime_ref):
        return self.env["mrp.workcenter.productivity"].search(
            [("shopfloor_downtime_ref", "=", downtime_ref)], order="date_start, id"
        )

    def assert_applied(self, outcome):
        result, event = outcome
        self.assertEqual(result["status"], "applied", result)
        return event

    # -- holds: two plants of one company -------------------------------------

    def test_two_plants_hold_and_release_the_same_hold_id(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 1, order=self.mo1.name, hold_id="H-1"))
        self.assert_applied(self.send(PLANT2, PLANT2_PRESS2, "quality.hold", 2, order=self.mo2.name, hold_id="H-1"))
        plant1_hold = self.holds("H-1", connection_id=self.connection.id)
        plant2_hold = self.holds("H-1", connection_id=self.plant2.id)
        self.assertEqual((plant1_hold.production_id, plant1_hold.state), (self.mo1, "active"))
        self.assertEqual(
            (plant2_hold.production_id, plant2_hold.state),
            (self.mo2, "active"),
            "plant 2's H-1 is its own hold, not plant 1's",
        )

        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.released", 3, order=self.mo1.name, hold_id="H-1"))
        self.assertEqual((plant1_hold.state, plant2_hold.state), ("released", "active"))
        with self.assertRaisesRegex(UserError, "quality hold active"):
            self.workorder_of(self.mo2, "Cutting").button_start()

        self.assert_applied(self.send(PLANT2, PLANT2_PRESS2, "quality.released", 4, order=self.mo2.name, hold_id="H-1"))
        self.assertEqual(plant2_hold.state, "released")
        self.assertEqual(plant2_hold.date_release, self.at(4))

    def test_a_release_never_reaches_another_plants_hold_whatever_order_it_names(self):
        self.assert_applied(self.send(PLANT2, PLANT2_PRESS2, "quality.hold", 1, order=self.mo2.name, hold_id="H-1"))
        plant2_hold = self.holds("H-1")
        result, naming_own = self.send(PLANT1, PLANT1_PRESS1, "quality.released", 2, order=self.mo1.name, hold_id="H-1")
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("'H-1' of connection test-conn", naming_own.error_message)
        result, naming_theirs = self.send(
            PLANT1, PLANT1_PRESS1, "quality.released", 3, order=self.mo2.name, hold_id="H-1"
        )
        self.assertEqual(result["status"], "pending", result)
        self.assertEqual(plant2_hold.state, "active")

        # Plant 1's own H-1 (on mo1) arrives: its release applies, the other names the wrong order.
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 0, order=self.mo1.name, hold_id="H-1"))
        self.retry_due()
        self.assertEqual(naming_own.state, "applied")
        self.assertEqual(self.holds("H-1", connection_id=self.connection.id).state, "released")
        self.assertEqual(naming_theirs.state, "pending", "nothing of plant 1 is active any more: it waits")
        self.assertEqual(plant2_hold.state, "active")

    def test_a_release_naming_another_order_of_the_same_plant_is_rejected(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 1, order=self.mo1.name, hold_id="H-3"))
        result, event = self.send(PLANT1, PLANT1_PRESS1, "quality.released", 2, order=self.mo2.name, hold_id="H-3")
        self.assertEqual(result["status"], "rejected", result)
        self.assertIn(self.mo1.name, event.error_message)
        self.assertIn(self.mo2.name, event.error_message)
        self.assertIn("'H-3' of connection test-conn", event.error_message)
        hold = self.holds("H-3")
        self.assertEqual(hold.state, "active")
        with self.assertRaisesRegex(UserError, "quality hold active"):
            self.workorder_of(self.mo1, "Cutting").button_start()

    def test_a_hold_id_active_on_another_order_of_the_same_plant_waits_for_its_release(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 1, order=self.mo1.name, hold_id="H-4"))
        result, second = self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 2, order=self.mo2.name, hold_id="H-4")
        self.assertEqual(result["status"], "pending", result)
        self.assertIn(self.mo1.name, second.error_message)
        self.assertIn(self.mo2.name, second.error_message)
        self.assertEqual(self.holds("H-4").production_id, self.mo1)

        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.released", 3, order=self.mo1.name, hold_id="H-4"))
        self.retry_due()
        self.assertEqual(second.state, "applied")
        active = self.holds("H-4", state="active")
        self.assertEqual((active.production_id, active.connection_id), (self.mo2, self.connection))

    def test_a_release_by_order_releases_only_its_own_plants_holds(self):
        # Plant 1's failed check holds mo1; a person holds it too.
        self.assert_applied(
            self.send(
                PLANT1,
                PLANT1_PRESS1,
                "quality.result",
                1,
                order=self.mo1.name,
                characteristic="hardness",
                **{"pass": False},
                value=31,
                low=40,
            )
        )
        from_check = self.env["shopfloor.hold"].search([("production_id", "=", self.mo1.id)])
        self.assertEqual(from_check.connection_id, self.connection)
        self.assertEqual(from_check.quality_result_id.connection_id, self.connection)
        by_hand = (
            self.env["shopfloor.hold"]
            .with_user(self.manager_a)
            .create({"production_id": self.mo1.id, "reason": "Supplier recall"})
        )
        self.assertFalse(by_hand.connection_id)

        result, event = self.send(PLANT2, PLANT2_PRESS1, "quality.released", 2, order=self.mo1.name)
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("No active hold of connection plant-2", event.error_message)
        self.assertIn("connection test-conn", event.error_message)
        self.assertIn("a person in Odoo", event.error_message)
        self.assertEqual((from_check | by_hand).mapped("state"), ["active", "active"])

        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.released", 3, order=self.mo1.name))
        self.assertEqual(
            (from_check.state, by_hand.state), ("released", "active"), "a person's hold is released by a person"
        )

    def test_an_event_without_connection_matches_only_holds_without_one(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 1, order=self.mo1.name, hold_id="H-1"))
        result, _event = self.send(None, PLANT1_PRESS1, "quality.released", 2, order=self.mo1.name, hold_id="H-1")
        self.assertNotEqual(result["status"], "applied", result)
        self.assertEqual(self.holds("H-1").state, "active")
        # The rule the handlers use, for callers whose events carry no connection.
        no_connection = self.env["shopfloor.connection"]
        unscoped = self.env["shopfloor.hold"].create(
            {"production_id": self.mo2.id, "reason": "Legacy", "hold_ref": "H-1"}
        )
        holds = self.env["shopfloor.hold"]
        self.assertEqual(holds._active_floor_hold(no_connection, "H-1"), unscoped)
        self.assertEqual(holds._active_floor_hold(self.connection, "H-1").production_id, self.mo1)
        self.assertFalse(holds._active_floor_hold(self.plant2, "H-1"))

    def test_the_database_keeps_one_active_hold_per_floor_id_and_connection(self):
        holds = self.env["shopfloor.hold"]
        values = {"production_id": self.mo1.id, "reason": "x", "hold_ref": "H-DB", "connection_id": self.connection.id}
        first = holds.create(values)
        holds.create({**values, "connection_id": self.plant2.id})  # another plant: allowed
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            holds.create(values)
            holds.flush_model()
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            holds.create({**values, "connection_id": False})
            holds.create({**values, "connection_id": False})
            holds.flush_model()
        first.sudo()._release(self.at(5))
        holds.flush_model()
        holds.create(values)  # released ids may come back
        holds.flush_model()

    # -- holds: two companies --------------------------------------------------

    def test_two_companies_hold_the_same_id_in_isolation(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "quality.hold", 1, order=self.mo1.name, hold_id="H-1"))
        self.assert_applied(
            self.send(COMPANY_B, COMPANY_B_PRESS, "quality.hold", 2, order=self.mo_b.name, hold_id="H-1")
        )
        hold_a = self.holds("H-1", company_id=self.company.id)
        hold_b = self.holds("H-1", company_id=self.company_b.id)
        self.assertEqual((hold_a.production_id, hold_a.connection_id), (self.mo1, self.connection))
        self.assertEqual((hold_b.production_id, hold_b.connection_id), (self.mo_b, self.connection_b))

        self.assert_applied(
            self.send(COMPANY_B, COMPANY_B_PRESS, "quality.released", 3, order=self.mo_b.name, hold_id="H-1")
        )
        self.assertEqual((hold_a.state, hold_b.state), ("active", "released"))
        # Each company's manager sees only its own.
        self.assertEqual(
            self.env["shopfloor.hold"].with_user(self.manager_a).search([("hold_ref", "=", "H-1")]), hold_a
        )
        self.assertEqual(
            self.env["shopfloor.hold"].with_user(self.manager_b).search([("hold_ref", "=", "H-1")]), hold_b
        )

    # -- downtimes ---------------------------------------------------------------

    def test_two_plants_share_a_downtime_id_on_one_work_center_interleaved(self):
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.started", 10, reason_code="BRK", downtime_id="D-7")
        )
        self.assert_applied(
            self.send(PLANT2, PLANT2_PRESS1, "downtime.started", 12, reason_code="MAT", downtime_id="D-7")
        )
        plant1_log, plant2_log = self.downtime_logs("D-7")
        self.assertEqual(
            (plant1_log.shopfloor_connection_id, plant1_log.loss_id), (self.connection, self.loss_breakdown)
        )
        self.assertEqual((plant2_log.shopfloor_connection_id, plant2_log.loss_id), (self.plant2, self.loss_material))
        self.assertEqual(plant2_log.workcenter_id, self.wc_press1)

        self.assert_applied(
            self.send(PLANT2, PLANT2_PRESS1, "downtime.ended", 15, reason_code="MAT", downtime_id="D-7")
        )
        self.assertEqual((plant1_log.date_end, plant2_log.date_end), (False, self.at(15)))
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.ended", 20, reason_code="BRK", downtime_id="D-7")
        )
        self.assertEqual((plant1_log.date_start, plant1_log.date_end), (self.at(10), self.at(20)))
        self.assertEqual((plant2_log.date_start, plant2_log.date_end), (self.at(12), self.at(15)))

    def test_two_plants_and_two_companies_in_one_interleaved_batch(self):
        events = []
        for minute, (connection, source) in enumerate(
            [(PLANT1, PLANT1_PRESS1), (PLANT2, PLANT2_PRESS2), (COMPANY_B, COMPANY_B_PRESS)], start=1
        ):
            events.append(
                self.make_event(
                    "downtime.started",
                    {"reason_code": "BRK", "downtime_id": "D-7"},
                    source=source,
                    time=self.at(minute),
                    connection=connection,
                )
            )
        for minute, (connection, source) in zip(
            (30, 10, 20), [(PLANT1, PLANT1_PRESS1), (PLANT2, PLANT2_PRESS2), (COMPANY_B, COMPANY_B_PRESS)], strict=True
        ):
            events.append(
                self.make_event(
                    "downtime.ended",
                    {"reason_code": "BRK", "downtime_id": "D-7"},
                    source=source,
                    time=self.at(minute),
                    connection=connection,
                )
            )
        results = self.ingest(*events)
        self.assertEqual([r["status"] for r in results], ["applied"] * 6, results)
        spans = {
            (log.shopfloor_connection_id.code, log.workcenter_id, log.company_id): (log.date_start, log.date_end)
            for log in self.downtime_logs("D-7")
        }
        self.assertEqual(
            spans,
            {
                (PLANT1, self.wc_press1, self.company): (self.at(1), self.at(30)),
                (PLANT2, self.wc_press2, self.company): (self.at(2), self.at(10)),
                (COMPANY_B, self.wc_b, self.company_b): (self.at(3), self.at(20)),
            },
        )

    def test_an_end_never_closes_another_plants_downtime(self):
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.started", 10, reason_code="BRK", downtime_id="D-8")
        )
        result, by_id = self.send(PLANT2, PLANT2_PRESS1, "downtime.ended", 11, reason_code="BRK", downtime_id="D-8")
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("'D-8' of connection plant-2", by_id.error_message)
        # Without an id, by reason or as the only open one: still only its own plant's.
        result, _by_reason = self.send(PLANT2, PLANT2_PRESS1, "downtime.ended", 12, reason_code="BRK")
        self.assertEqual(result["status"], "pending", result)
        self.assertFalse(self.downtime_logs("D-8").date_end)
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.ended", 13, reason_code="BRK", downtime_id="D-8")
        )
        self.assertEqual(self.downtime_logs("D-8").date_end, self.at(13))

    def test_a_downtime_id_open_on_another_work_center_of_the_same_plant_waits(self):
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.started", 10, reason_code="BRK", downtime_id="D-9")
        )
        result, second = self.send(PLANT1, PLANT1_PRESS2, "downtime.started", 11, reason_code="BRK", downtime_id="D-9")
        self.assertEqual(result["status"], "pending", result)
        self.assertIn("still open on Press 01", second.error_message)
        self.assertIn("Press 02", second.error_message)
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.ended", 12, reason_code="BRK", downtime_id="D-9")
        )
        self.retry_due()
        self.assertEqual(second.state, "applied")
        first_log, second_log = self.downtime_logs("D-9")
        self.assertEqual((first_log.workcenter_id, first_log.date_end), (self.wc_press1, self.at(12)))
        self.assertEqual(
            (second_log.workcenter_id, second_log.date_start, second_log.date_end), (self.wc_press2, self.at(11), False)
        )

    def test_the_database_keeps_one_open_downtime_per_floor_id_and_connection(self):
        logs = self.env["mrp.workcenter.productivity"]
        values = {
            "workcenter_id": self.wc_press1.id,
            "loss_id": self.loss_breakdown.id,
            "date_start": self.at(1),
            "shopfloor_kind": "downtime",
            "shopfloor_downtime_ref": "D-DB",
            "shopfloor_connection_id": self.connection.id,
        }
        logs.create(values)
        logs.create({**values, "shopfloor_connection_id": self.plant2.id, "workcenter_id": self.wc_press2.id})
        logs.create({**values, "date_end": self.at(2)})  # closed: the id may come back
        logs.flush_model()
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            logs.create({**values, "workcenter_id": self.wc_press2.id})
            logs.flush_model()

    def test_changeovers_end_only_their_own_plants(self):
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "setup.started", 10))
        result, _event = self.send(PLANT2, PLANT2_PRESS1, "setup.ended", 11)
        self.assertEqual(result["status"], "pending", result)
        [setup] = self.time_logs(workcenter=self.wc_press1).filtered(lambda log: log.shopfloor_kind == "setup")
        self.assertEqual((setup.shopfloor_connection_id, setup.date_end), (self.connection, False))
        self.assert_applied(self.send(PLANT1, PLANT1_PRESS1, "setup.ended", 12))
        self.assertEqual(setup.date_end, self.at(12))

    # -- least privilege on holds ---------------------------------------------

    def floor_hold(self, hold_ref="H-ACL", production=None, connection=PLANT1, source=PLANT1_PRESS1):
        self.assert_applied(
            self.send(connection, source, "quality.hold", 1, order=(production or self.mo1).name, hold_id=hold_ref)
        )
        return self.holds(hold_ref, state="active")

    def test_release_needs_a_bridge_manager_of_the_holds_company(self):
        hold = self.floor_hold()
        for user in (self.operator, self.mrp_manager):
            with self.assertRaisesRegex(AccessError, "Shop Floor Bridge / Manager"):
                hold.with_user(user).action_release()
        with self.assertRaises(AccessError):
            hold.with_user(self.manager_b).action_release()
        self.assertEqual(hold.state, "active")
        hold.with_user(self.manager_a).action_release()
        self.assertEqual((hold.state, hold.released_by_id), ("released", self.manager_a))

    def test_a_manager_cannot_read_or_hold_another_companys_orders(self):
        hold_b = self.floor_hold("H-B", production=self.mo_b, connection=COMPANY_B, source=COMPANY_B_PRESS)
        holds_as_a = self.env["shopfloor.hold"].with_user(self.manager_a)
        self.assertFalse(holds_as_a.search([("hold_ref", "=", "H-B")]))
        with self.assertRaises(AccessError):
            holds_as_a.browse(hold_b.id).reason  # noqa: B018 (the read is the test)
        with self.assertRaises(AccessError):
            holds_as_a.create({"production_id": self.mo_b.id, "reason": "x", "company_id": self.company_b.id})
        with self.assertRaises(UserError):  # its own company on another company's order
            holds_as_a.create({"production_id": self.mo_b.id, "reason": "x"})
        # Quality results: the company rule the same way.
        self.assert_applied(
            self.send(
                COMPANY_B,
                COMPANY_B_PRESS,
                "quality.result",
                2,
                order=self.mo_b.name,
                characteristic="bore",
                **{"pass": True},
            )
        )
        result_b = self.env["shopfloor.quality.result"].search([("company_id", "=", self.company_b.id)])
        self.assertEqual(result_b.connection_id, self.connection_b)
        self.assertFalse(
            self.env["shopfloor.quality.result"].with_user(self.manager_a).search([("characteristic", "=", "bore")])
        )
        self.assertEqual(
            self.env["shopfloor.quality.result"].with_user(self.manager_b).search([("characteristic", "=", "bore")]),
            result_b,
        )

    def test_audited_hold_fields_are_refused_on_a_plain_write(self):
        hold = self.floor_hold()
        as_manager = hold.with_user(self.manager_a)
        for values in (
            {"state": "released"},
            {"company_id": self.company_b.id},
            {"connection_id": self.plant2.id},
            {"production_id": self.mo2.id},
            {"workorder_id": self.workorder_of(self.mo1, "Assembly").id},
            {"hold_ref": "H-OTHER"},
        ):
            with self.assertRaisesRegex(AccessError, f"write of {next(iter(values))}"):
                as_manager.write(values)
        as_manager.write({"reason": "Cracks on the first ten parts"})
        self.assertEqual(
            (hold.state, hold.hold_ref, hold.production_id, hold.connection_id),
            ("active", "H-ACL", self.mo1, self.connection),
        )
        # A hold placed by hand: no floor key, never created released.
        holds_as_a = self.env["shopfloor.hold"].with_user(self.manager_a)
        for values in ({"hold_ref": "H-1"}, {"connection_id": self.connection.id}, {"state": "released"}):
            with self.assertRaises(AccessError):
                holds_as_a.create({"production_id": self.mo2.id, "reason": "x", **values})
        by_hand = holds_as_a.create({"production_id": self.mo2.id, "reason": "x", "state": "active"})
        self.assertEqual(
            (by_hand.state, by_hand.company_id, by_hand.connection_id),
            ("active", self.company, self.env["shopfloor.connection"]),
        )

    def test_floor_keys_of_time_logs_and_quality_results_are_refused_on_a_plain_write(self):
        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "downtime.started", 10, reason_code="MAT", downtime_id="D-5")
        )
        log = self.downtime_logs("D-5")
        for values in (
            {"shopfloor_downtime_ref": "D-6"},
            {"shopfloor_connection_id": self.plant2.id},
            {"shopfloor_kind": "work"},
        ):
            with self.assertRaises(AccessError):
                log.with_user(self.operator).write(values)
        with self.assertRaises(AccessError):
            self.env["mrp.workcenter.productivity"].with_user(self.operator).create(
                {
                    "workcenter_id": self.wc_press1.id,
                    "loss_id": self.loss_material.id,
                    "date_start": self.at(1),
                    "shopfloor_downtime_ref": "D-7",
                    "shopfloor_connection_id": self.plant2.id,
                }
            )
        self.assertEqual((log.shopfloor_downtime_ref, log.shopfloor_connection_id), ("D-5", self.connection))

        self.assert_applied(
            self.send(PLANT1, PLANT1_PRESS1, "quality.result", 11, characteristic="bore", **{"pass": True})
        )
        result = self.env["shopfloor.quality.result"].search([("characteristic", "=", "bore")])
        for values in ({"passed": False}, {"company_id": self.company_b.id}, {"connection_id": self.plant2.id}):
            with self.assertRaises(AccessError):
                result.with_user(self.manager_a).write(values)
        self.assertTrue(result.passed)
