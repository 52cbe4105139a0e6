import json
import random
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .. import revision_diff
from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestMappingRevision(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Revision = cls.env["shopfloor.mapping.revision"]
        cls.source_press1 = cls.env["shopfloor.source.map"].search(
            [("connection_id", "=", cls.connection.id), ("source", "=", "plant1/line1/press-01")]
        )

    def revisions(self):
        return self.Revision.search([("connection_id", "=", self.connection.id)], order="sequence")

    def latest(self):
        return self.revisions()[-1]

    def changes(self, revision=None):
        return json.loads((revision or self.latest()).changes_json)

    def change_of(self, field, revision=None, kind=None):
        found = [
            change
            for change in self.changes(revision)
            if change["field"] == field and (kind is None or change["kind"] == kind)
        ]
        self.assertEqual(len(found), 1, self.changes(revision))
        return found[0]

    def content(self, snapshot):
        """A snapshot without row ids (a restored row is a new row): what each section holds."""
        return {
            section: sorted(
                json.dumps(revision_diff.comparable(row["values"]), sort_keys=True) for row in rows.values()
            )
            for section, rows in snapshot["sections"].items()
        }

    def current_content(self):
        return self.content(self.Revision._snapshot(self.connection))

    # ------------------------------------------------------------------ recording

    def test_every_change_of_a_map_records_old_and_new_values(self):
        before = self.latest()
        self.source_press1.workcenter_id = self.wc_press2
        revision = self.latest()
        self.assertEqual(revision.sequence, before.sequence + 1)
        self.assertEqual(revision.revision, self.connection.revision)
        change = self.change_of("workcenter_id")
        self.assertEqual(
            (change["kind"], change["old"]["name"], change["new"]["name"]), ("changed", "Press 01", "Press 02")
        )
        self.assertEqual(change["section"], "shopfloor.source.map")
        # The chatter shows the values, by name.
        body = self.connection.message_ids[0].body
        self.assertIn(f"Mapping revision {self.connection.revision}", body)
        self.assertIn("Press 01", body)
        self.assertIn("Press 02", body)
        self.assertIn(self.env["shopfloor.source.map"]._fields["workcenter_id"].string, revision.changes_html)

        reason = self.env["shopfloor.reason.map"].search(
            [("code", "=", "BRK"), ("connection_id", "=", self.connection.id)]
        )
        reason.open_maintenance = False
        change = self.change_of("open_maintenance")
        self.assertEqual((change["old"], change["new"]), (True, False))
        self.assertIn("<td>changed</td>", self.latest().changes_html)
        self.assertIn(">Yes<", self.latest().changes_html)
        self.assertIn(">No<", self.latest().changes_html)

    def test_child_rows_created_and_deleted_are_changes(self):
        row = self.env["shopfloor.material.map"].create(
            {"connection_id": self.connection.id, "code": "NUT-M8", "product_id": self.product_bolt.id}
        )
        added = self.changes()
        self.assertEqual({change["kind"] for change in added}, {"added"})
        self.assertEqual(
            {change["field"]: change["new"] for change in added}["code"], "NUT-M8", "the new row's values are listed"
        )
        self.assertEqual(self.change_of("product_id", kind="added")["new"]["name"], self.product_bolt.display_name)
        row.unlink()
        removed = self.changes()
        self.assertEqual({change["kind"] for change in removed}, {"removed"})
        self.assertEqual({change["field"]: change["old"] for change in removed}["code"], "NUT-M8")
        self.assertNotIn(str(row.id), self.Revision._snapshot(self.connection)["sections"]["shopfloor.material.map"])

    def test_tag_rule_rows_and_payload_maps_are_recorded(self):
        rule = self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": self.connection.id,
                "kind": "state",
                "protocol": "opcua",
                "address": "ns=2;s=Press01.State",
                "source": "plant1/line1/press-01",
                "value_map_ids": [Command.create({"value": "1", "state": "running"})],
            }
        )
        self.env["shopfloor.mapping.rule.state"].create(
            {"rule_id": rule.id, "value": "2", "state": "down", "reason_code": "BRK"}
        )
        change = self.change_of("value_map_ids")
        self.assertEqual([row["value"] for row in change["old"]], ["1"])
        self.assertEqual([row["value"] for row in change["new"]], ["1", "2"])
        self.assertIn("BRK", self.latest().changes_html, "the rows shown as indented JSON")
        rule.value_map_ids.filtered(lambda row: row.value == "1").unlink()
        self.assertEqual([row["value"] for row in self.change_of("value_map_ids")["new"]], ["2"])

        mapping = self.env["shopfloor.payload.map"].create(
            {
                "connection_id": self.connection.id,
                "name": "Counter JSON",
                "match": "plant1/+/counter",
                "expression": '{"type": "production.reported"}',
            }
        )
        mapping.expression = '{"type": "scrap.reported"}'
        change = self.change_of("expression")
        self.assertEqual(
            (change["old"], change["new"]), ('{"type": "production.reported"}', '{"type": "scrap.reported"}')
        )
        self.assertIn("&#34;scrap.reported&#34;", str(self.latest().changes_html).replace("&quot;", "&#34;"))

    def test_connection_settings_recorded_with_labels(self):
        revision = self.connection.revision
        before = self.latest()
        self.connection.write({"name": "Line 1 broker", "order_lookup": self.connection.order_lookup})
        self.assertEqual(self.connection.revision, revision, "a setting the sidecar does not reload moves no revision")
        self.assertEqual(self.latest().sequence, before.sequence + 1)
        change = self.change_of("name")
        self.assertEqual((change["old"], change["new"]), ("Test plant MQTT", "Line 1 broker"))
        self.assertEqual(len(self.changes()), 1, "an unchanged value is no change")
        self.assertIn("Line 1 broker", self.connection.message_ids[0].body)

        self.connection.write({"mqtt_protocol_version": "4"})
        self.assertIn("3.1.1", self.latest().changes_html, "a selection shows its label")
        self.connection.write({"batch_size": 250})
        self.assertEqual(self.connection.revision, revision + 1)
        self.assertEqual((self.change_of("batch_size")["old"], self.change_of("batch_size")["new"]), (500, 250))

        sequence = self.latest().sequence
        self.connection.write({"name": "Line 1 broker"})
        self.assertEqual(self.latest().sequence, sequence, "writing the same value records nothing")

    def test_a_connection_starts_with_a_baseline(self):
        connection = self.env["shopfloor.connection"].create({"code": "fresh", "name": "Fresh", "kind": "mqtt"})
        [baseline] = self.Revision.search([("connection_id", "=", connection.id)])
        self.assertEqual((baseline.sequence, baseline.change_count), (1, 0))
        self.assertEqual(
            json.loads(baseline.snapshot_json)["sections"]["shopfloor.connection"][str(connection.id)]["values"][
                "name"
            ],
            "Fresh",
        )

    def test_a_connection_without_revisions_gets_one_before_its_first_change(self):
        self.revisions().unlink()  # as after the upgrade to change control
        self.source_press1.workcenter_id = self.wc_assembly1
        baseline, change = self.revisions()
        self.assertEqual((baseline.sequence, change.sequence), (1, 2))
        self.assertEqual(self.change_of("workcenter_id", change)["old"]["name"], "Press 01")

    # ------------------------------------------------------------------ compare

    def test_compare_non_adjacent_revisions(self):
        first = self.latest()
        self.source_press1.workcenter_id = self.wc_press2
        self.env["shopfloor.uom.map"].create(
            {"connection_id": self.connection.id, "code": "G", "uom_id": self.uom_gram.id}
        )
        self.env["shopfloor.material.map"].search(
            [("code", "=", "M8"), ("connection_id", "=", self.connection.id)]
        ).unlink()
        self.connection.name = "Renamed"
        last = self.latest()
        self.assertEqual(last.sequence, first.sequence + 4)
        compare = self.env["shopfloor.mapping.revision.compare"].create(
            {"from_revision_id": first.id, "to_revision_id": last.id}
        )
        self.assertEqual((compare.added_count, compare.removed_count, compare.changed_count), (1, 1, 2))
        html = str(compare.diff_html)
        for text in ("Press 01", "Press 02", "M8", "Renamed", "Test plant MQTT", "G", "removed", "added"):
            self.assertIn(text, html)
        compare.action_swap()
        self.assertEqual((compare.added_count, compare.removed_count), (1, 1))
        self.assertEqual(compare.from_revision_id, last)
        other = self.env["shopfloor.connection"].create({"code": "other", "name": "Other", "kind": "mqtt"})
        with self.assertRaisesRegex(ValidationError, "same connection"):
            compare.to_revision_id = self.Revision.search([("connection_id", "=", other.id)])

    # ------------------------------------------------------------------ restore

    def test_restore_brings_back_the_old_state_and_records_a_revision(self):
        first = self.latest()
        old_content = self.content(json.loads(first.snapshot_json))
        revision = self.connection.revision
        self.source_press1.workcenter_id = self.wc_press2
        self.env["shopfloor.material.map"].search(
            [("code", "=", "M8"), ("connection_id", "=", self.connection.id)]
        ).unlink()
        self.env["shopfloor.uom.map"].create(
            {"connection_id": self.connection.id, "code": "G", "uom_id": self.uom_gram.id}
        )
        self.connection.write({"name": "Renamed", "batch_size": 100})
        self.assertNotEqual(self.current_content(), old_content)
        changed = self.latest()

        first.action_restore()
        self.assertEqual(self.current_content(), old_content)
        restored = self.latest()
        self.assertEqual(restored.sequence, changed.sequence + 1, "the restore is one new revision")
        self.assertEqual(restored.restored_from_id, first)
        self.assertEqual(self.connection.revision, revision + 5, "the sidecar reloads once more")
        self.assertEqual(restored.revision, self.connection.revision)
        self.assertIn(f"restored revision {first.name}", self.connection.message_ids[0].body)
        self.assertEqual(self.change_of("name", restored)["new"], "Test plant MQTT")
        self.assertEqual(self.source_press1.workcenter_id, self.wc_press1, "an existing row is written, not replaced")
        self.assertEqual(self.connection.sidecar_config("test-conn")["revision"], self.connection.revision)
        self.assertTrue(restored.is_current)

        # and forward again: the changed state comes back
        changed.action_restore()
        self.assertEqual(self.current_content(), self.content(json.loads(changed.snapshot_json)))

    def test_restore_refuses_a_row_whose_record_is_gone(self):
        spare = self.env["mrp.workcenter"].create({"name": "Spare press", "code": "SPARE"})
        row = self.env["shopfloor.source.map"].create(
            {"connection_id": self.connection.id, "source": "plant1/line1/spare", "workcenter_id": spare.id}
        )
        with_spare = self.latest()
        row.unlink()
        spare.unlink()  # allowed once no mapping points to it
        self.source_press1.workcenter_id = self.wc_press2
        sequence = self.latest().sequence
        with self.assertRaisesRegex(ValidationError, "plant1/line1/spare .*Spare press no longer exists"):
            with_spare.action_restore()
        self.assertEqual(self.latest().sequence, sequence, "a refused restore records nothing")
        self.assertEqual(self.source_press1.workcenter_id, self.wc_press2, "and writes nothing back")

    def test_restore_runs_the_constraints(self):
        sidecar = new_test_user(
            self.env, "sf-rev-sidecar", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        )
        self.connection.integration_user_ids = [Command.link(sidecar.id)]
        with_sidecar = self.latest()
        self.assertEqual(self.change_of("integration_user_ids", with_sidecar)["new"][0]["name"], sidecar.name)
        self.connection.write({"integration_user_ids": [Command.clear()], "name": "Without sidecar"})
        # Since then the user left the integration group: the connection's check refuses it back.
        sidecar.groups_id = [Command.unlink(self.env.ref("shopfloor_bridge.shopfloor_bridge_group_integration").id)]
        sequence = self.latest().sequence
        with self.assertRaisesRegex(ValidationError, "sf-rev-sidecar cannot be an integration user"):
            with_sidecar.action_restore()
        self.assertEqual(self.latest().sequence, sequence)
        self.assertEqual(self.connection.name, "Without sidecar", "nothing of a refused restore stays")
        self.assertFalse(self.connection.integration_user_ids)

    # ------------------------------------------------------------------ events

    def test_events_link_to_the_revision_they_were_applied_under(self):
        before = self.latest()
        _result, first = self.ingest_one(
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 1}, time=self.at(1))
        )
        self.assertEqual(first.state, "applied", first.error_message)
        self.assertEqual(first.mapping_revision_id, before)
        self.env["shopfloor.source.map"].create(
            {
                "connection_id": self.connection.id,
                "source": "plant1/line1/press-01b",
                "workcenter_id": self.wc_press1.id,
            }
        )
        after = self.latest()
        results = self.ingest(
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 1}, time=self.at(2)),
            self.make_event(
                "production.reported",
                {"order": self.mo1.name, "qty_good": 1},
                time=self.at(3),
                source="plant1/line1/press-01b",
            ),
        )
        events = self.env["shopfloor.event"].browse([result["event_id"] for result in results])
        self.assertEqual(events.mapped("state"), ["applied", "applied"], events.mapped("error_message"))
        self.assertEqual(events.mapping_revision_id, after)
        self.assertEqual(first.mapping_revision_id, before, "an event keeps the revision it was applied under")
        self.assertIn("plant1/line1/press-01b", events[1].mapping_revision_html)
        self.assertNotIn("plant1/line1/press-01b", first.mapping_revision_html)
        self.assertEqual(after.action_open_events()["domain"], [("mapping_revision_id", "=", after.id)])
        self.assertEqual(self.env["shopfloor.event"].search([("mapping_revision_id", "=", after.id)]), events)

    def test_events_of_a_batch_link_in_one_lookup(self):
        Revision = type(self.Revision)
        original = Revision._newest_by_key
        calls = []

        def counted(model, keys):
            calls.append(len({key for key in keys if all(key)}))
            return original(model, keys)

        batch = [
            self.make_event("production.reported", {"order": self.mo1.name, "qty_good": 1}, time=self.at(minutes))
            for minutes in range(1, 21)
        ]
        with patch.object(Revision, "_newest_by_key", counted):
            results = self.ingest(*batch)
            self.env.flush_all()
        events = self.env["shopfloor.event"].browse([result["event_id"] for result in results])
        self.assertEqual(set(events.mapped("state")), {"applied"})
        self.assertEqual(events.mapping_revision_id, self.latest())
        # The outcome rows link them as they are written (shopfloor.event._write_rows).
        self.assertEqual([count for count in calls if count], [1], "one lookup for the batch's 20 events")

    # ------------------------------------------------------------------ the diff, over many snapshots

    def test_diff_properties_over_random_snapshots(self):
        """Seeded random snapshots: a diff of a snapshot with itself is empty, and every change names
        the value each side holds, rows added and removed exactly as the two sides differ."""
        rng = random.Random(21)
        values = [None, False, True, 0, 1, 2.5, "", "a", "→ ü", [], {"id": 1, "name": "One"}, {"id": 2, "name": "Two"}]
        values += [[{"id": 1, "name": "One"}], [{"value": "1", "state": "down"}], '{"a": [1, 2]}']

        def snapshot():
            return {
                "version": 1,
                "sections": {
                    section: {
                        str(row): {
                            "label": f"{section} {row}",
                            "values": {field: rng.choice(values) for field in ("f1", "f2", "f3")},
                        }
                        for row in rng.sample(range(1, 8), rng.randint(0, 5))
                    }
                    for section in rng.sample(["s.a", "s.b", "s.c"], rng.randint(1, 3))
                },
            }

        for _round in range(300):
            old, new = snapshot(), snapshot()
            self.assertEqual(revision_diff.diff(old, old), [])
            changes = revision_diff.diff(old, new)
            old_rows = {(sec, row) for sec, rows in old["sections"].items() for row in rows}
            new_rows = {(sec, row) for sec, rows in new["sections"].items() for row in rows}
            for change in changes:
                key = (change["section"], change["row"])
                if change["kind"] == "added":
                    self.assertIn(key, new_rows - old_rows)
                elif change["kind"] == "removed":
                    self.assertIn(key, old_rows - new_rows)
                else:
                    self.assertIn(key, old_rows & new_rows)
                    before = old["sections"][key[0]][key[1]]["values"][change["field"]]
                    after = new["sections"][key[0]][key[1]]["values"][change["field"]]
                    self.assertEqual((change["old"], change["new"]), (before, after))
                    self.assertNotEqual(revision_diff.comparable(before), revision_diff.comparable(after))
            changed_rows = {(change["section"], change["row"]) for change in changes}
            for key in old_rows & new_rows:
                differs = revision_diff.comparable(old["sections"][key[0]][key[1]]["values"]) != (
                    revision_diff.comparable(new["sections"][key[0]][key[1]]["values"])
                )
                self.assertEqual(key in changed_rows, differs, key)
            # A renamed record is the same record: no change.
            renamed = json.loads(json.dumps(old).replace('"One"', '"Renamed"'))
            self.assertEqual(revision_diff.diff(old, renamed), [])

    # ------------------------------------------------------------------ access

    def test_access_rights(self):
        user = new_test_user(
            self.env,
            "sf-rev-user",
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_user",
        )
        manager = new_test_user(
            self.env,
            "sf-rev-manager",
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        first = self.latest()
        self.source_press1.workcenter_id = self.wc_press2
        as_user = first.with_user(user)
        self.assertTrue(as_user.changes_html is not None and as_user.name)
        with self.assertRaises(AccessError):
            as_user.action_restore()
        with self.assertRaises(AccessError):
            as_user.action_compare()
        with self.assertRaises(AccessError):
            as_user.write({"summary": "forged"})
        with self.assertRaises(AccessError):
            self.Revision.with_user(manager).create({"connection_id": self.connection.id, "sequence": 99})
        with self.assertRaises(AccessError):
            first.with_user(manager).unlink()
        with self.assertRaises(AccessError):
            self.env["shopfloor.mapping.revision.compare"].with_user(user).create(
                {"from_revision_id": first.id, "to_revision_id": self.latest().id}
            )
        action = first.with_user(manager).action_compare()
        compare = self.env["shopfloor.mapping.revision.compare"].browse(action["res_id"])
        self.assertEqual((compare.from_revision_id, compare.to_revision_id), (first, self.latest()))
        first.with_user(manager).action_restore()
        self.assertEqual(self.source_press1.workcenter_id, self.wc_press1)
        self.assertEqual(self.latest().user_id, manager)
