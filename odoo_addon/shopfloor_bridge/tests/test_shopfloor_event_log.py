"""History rows: the batch writer (``_create_rows``) makes the rows ``create`` makes."""

from odoo.tests import tagged

from .common import ShopfloorCase

FIELDS = ("event_id", "user_id", "action", "state", "note", "company_id", "create_uid", "write_uid")


@tagged("post_install", "-at_install")
class TestEventLog(ShopfloorCase):
    def _rows(self, event):
        return [
            {"event_id": event.id, "action": "ingest", "state": "pending", "note": "Text escaped at $.data.x"},
            {"event_id": event.id, "action": "apply", "state": "applied", "note": ""},
            {"event_id": event.id, "action": "reject", "state": "rejected", "note": "schema: $.data: bad"},
            {"event_id": event.id, "action": "fail", "state": "failed"},
        ]

    def _events(self, *ids):
        events = [self.make_event("quality.hold", {"workcenter": "nowhere"}, id=uid) for uid in ids]
        results = self.env["shopfloor.event"].ingest(events)
        return self.env["shopfloor.event"].sudo().browse([result["event_id"] for result in results])

    def test_batch_rows_equal_orm_rows(self):
        one, two = self._events("log-1", "log-2")
        logs = self.env["shopfloor.event.log"].sudo()
        self.assertEqual(len(two.history_ids), len(one.history_ids))  # read into the cache first
        logs.create(self._rows(one))
        logs._create_rows(self._rows(two))
        by_orm = one.history_ids.read(FIELDS)
        by_batch = two.history_ids.read(FIELDS)  # the cached history was invalidated
        self.assertEqual(len(by_batch), len(by_orm))
        for orm, batch in zip(by_orm, by_batch, strict=True):
            orm.pop("id"), batch.pop("id")
            self.assertEqual(orm.pop("event_id")[0], one.id)
            self.assertEqual(batch.pop("event_id")[0], two.id)
            self.assertEqual(batch, orm)
        self.assertTrue(all(two.history_ids.mapped("date")))

    def test_an_unknown_action_is_refused(self):
        event = self._events("log-3")
        with self.assertRaises(ValueError):
            self.env["shopfloor.event.log"]._create_rows([{"event_id": event.id, "action": "teleport"}])
