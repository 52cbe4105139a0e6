"""Outcome rows: the batch writer (``shopfloor.event._write_rows``) leaves what ``write`` leaves."""

from datetime import datetime

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import ShopfloorCase

FIELDS = (
    "state",
    "applied_time",
    "result_refs",
    "mapping_revision",
    "mapping_revision_id",
    "production_id",
    "workorder_id",
    "error_class",
    "error_message",
    "error_traceback",
    "next_retry_at",
    "pending_since",
    "attempts",
    "undo_json",
    "write_uid",
)


@tagged("post_install", "-at_install")
class TestEventOutcomeRows(ShopfloorCase):
    def _events(self, *ids):
        events = [self.make_event("quality.hold", {"workcenter": "nowhere"}, id=uid) for uid in ids]
        results = self.env["shopfloor.event"].ingest(events)
        return self.env["shopfloor.event"].sudo().browse([result["event_id"] for result in results])

    def _outcomes(self):
        # A revision newer than the one the events were stored under: the link must follow the write.
        self.env["shopfloor.source.map"].create(
            {
                "connection_id": self.connection.id,
                "source": "plant1/line1/press-01b",
                "workcenter_id": self.wc_press1.id,
            }
        )
        revision = self.env["shopfloor.mapping.revision"].search(
            [("connection_id", "=", self.connection.id)], order="sequence desc", limit=1
        )
        self.assertTrue(revision, "the connection records its revisions")
        workorder = self.mo1.workorder_ids[:1]
        applied = {
            "state": "applied",
            "applied_time": datetime(2026, 3, 4, 5, 6, 7),
            "result_refs": f"mrp.workorder,{workorder.id}\nmrp.production,{self.mo1.id}",
            "mapping_revision": revision.revision,
            "production_id": self.mo1.id,
            "workorder_id": workorder.id,
            "error_class": False,
            "error_message": False,
            "error_traceback": False,
            "next_retry_at": False,
            "pending_since": False,
            "attempts": 1,
            "undo_json": '{"steps": [["closed_log", {"log": 7}]]}',
        }
        pending = {
            "state": "pending",
            "error_class": "EventPending",
            "error_message": "Waiting for its start: ünïcode ✓",
            "error_traceback": "Traceback (most recent call last):\n  …",
            "next_retry_at": "2026-03-04 05:07:00",
            "pending_since": datetime(2026, 3, 4, 5, 6, 7),
            "attempts": 3,
        }
        return revision, applied, pending

    def test_rows_equal_what_write_leaves(self):
        by_write_applied, by_write_pending, by_rows_applied, by_rows_pending = self._events("r-1", "r-2", "r-3", "r-4")
        revision, applied, pending = self._outcomes()
        self.assertNotEqual(by_rows_applied.mapping_revision_id, revision)
        by_write_applied.write(applied)
        by_write_pending.write(pending)
        self.env["shopfloor.event"]._write_rows([(by_rows_applied, applied), (by_rows_pending, pending)])
        # The cache answers the new values at once, and so does the database.
        self.assertEqual(by_rows_applied.state, "applied")
        self.assertEqual(by_rows_applied.mapping_revision_id, revision, "the stored compute follows")
        self.assertEqual(by_rows_pending.error_message, pending["error_message"])
        expected = (by_write_applied + by_write_pending).read(FIELDS)
        self.env.invalidate_all()
        got = (by_rows_applied + by_rows_pending).read(FIELDS)
        for want, have in zip(expected, got, strict=True):
            want.pop("id"), have.pop("id")
            self.assertEqual(have, want)
        self.assertEqual(got[0]["mapping_revision_id"][0], revision.id)
        self.assertFalse(got[1]["applied_time"], "a field a row leaves out keeps its value")

    def test_the_revision_link_goes_in_the_same_update(self):
        events = self._events("r-9", "r-10")
        revision, applied, _pending = self._outcomes()
        self.env.flush_all()
        with self.recorded_sql() as statements:
            self.env["shopfloor.event"]._write_rows([(event, dict(applied)) for event in events])
            self.env.flush_all()
        updates = [query for query in statements if query.lstrip().startswith('UPDATE "shopfloor_event"')]
        self.assertEqual(len(updates), 1, "one UPDATE of the rows, the link with the outcome")
        self.assertIn('"mapping_revision_id"', updates[0])
        self.env.invalidate_all()
        self.assertEqual(events.mapping_revision_id, revision)

    def test_a_pending_change_of_the_same_field_is_sent_first(self):
        event = self._events("r-5")
        event.write({"attempts": 7, "error_class": "Mine"})  # in the cache, not yet flushed
        self.env["shopfloor.event"]._write_rows([(event, {"attempts": 9})])
        self.env.flush_all()
        self.env.cr.execute("SELECT attempts, error_class FROM shopfloor_event WHERE id = %s", [event.id])
        self.assertEqual(self.env.cr.fetchone(), (9, "Mine"))

    def test_plain_users_are_refused(self):
        event = self._events("r-6")
        with self.assertRaisesRegex(AccessError, "only audited actions"):
            self.env["shopfloor.event"].with_user(self.env.ref("base.user_demo"))._write_rows(
                [(event, {"state": "applied"})]
            )
        self.assertNotEqual(event.state, "applied")

    def test_fields_it_cannot_write_and_repeated_events_are_refused(self):
        one, two = self._events("r-7", "r-8")
        rows = self.env["shopfloor.event"]
        with self.assertRaisesRegex(ValueError, "mapping_revision_id"):
            rows._write_rows([(one, {"mapping_revision_id": False})])
        with self.assertRaisesRegex(ValueError, "history_ids"):
            rows._write_rows([(one, {"history_ids": []})])
        with self.assertRaisesRegex(ValueError, "distinct events"):
            rows._write_rows([(one, {"attempts": 1}), (one, {"attempts": 2})])
        rows._write_rows([(two, {})])  # nothing to write: nothing happens


@tagged("post_install", "-at_install")
class TestEventIndexes(ShopfloorCase):
    """What every stored event writes besides its row: one entry per index, at its insert and
    again at its outcome (an UPDATE of indexed columns is never HOT)."""

    def _indexes(self):
        self.env.cr.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'shopfloor_event'")
        return dict(self.env.cr.fetchall())

    def _plan(self, query, params):
        # With sequential scans priced out, the plan shows which index there is to use.
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.addCleanup(self.env.cr.execute, "RESET enable_seqscan")
        self.env.cr.execute(f"EXPLAIN {query}", params)
        return "\n".join(row[0] for row in self.env.cr.fetchall())

    def test_no_index_by_work_center_alone_and_none_over_applied_events_error_class(self):
        indexes = self._indexes()
        self.assertNotIn("shopfloor_event__workcenter_id_index", indexes)
        self.assertIn('(workcenter_id, "time")', indexes["shopfloor_event_wc_time_idx"])
        # Partial: an applied event (no error class) has no entry in it.
        self.assertIn("WHERE (error_class IS NOT NULL)", indexes["shopfloor_event__error_class_index"])
        # A work center's events are still found by index, and so are the failed events of a class.
        plan = self._plan("SELECT id FROM shopfloor_event WHERE workcenter_id = %s", [self.wc_press1.id])
        self.assertIn("shopfloor_event_wc_time_idx", plan)
        plan = self._plan("SELECT id FROM shopfloor_event WHERE error_class = %s", ["EventPending"])
        self.assertIn("shopfloor_event__error_class_index", plan)

    def test_an_upgrade_drops_the_indexes_earlier_versions_made(self):
        cr = self.env.cr
        # As earlier versions left the table: both indexes plain.
        cr.execute("DROP INDEX shopfloor_event__error_class_index")
        cr.execute("CREATE INDEX shopfloor_event__error_class_index ON shopfloor_event (error_class)")
        cr.execute("CREATE INDEX shopfloor_event__workcenter_id_index ON shopfloor_event (workcenter_id)")
        before = self._indexes()
        self.assertNotIn("WHERE", before["shopfloor_event__error_class_index"])
        # What a module update runs for the model: its init, then Odoo's indexes of its fields.
        self.env["shopfloor.event"].init()
        self.env.registry.check_indexes(cr, ["shopfloor.event"])
        after = self._indexes()
        self.assertNotIn("shopfloor_event__workcenter_id_index", after)
        self.assertIn("WHERE (error_class IS NOT NULL)", after["shopfloor_event__error_class_index"])
        self.assertEqual(set(after), set(before) - {"shopfloor_event__workcenter_id_index"})
        # Run again, it changes nothing.
        self.env["shopfloor.event"].init()
        self.assertEqual(self._indexes(), after)
