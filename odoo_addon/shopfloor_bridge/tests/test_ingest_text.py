"""Any text the floor sends is stored: as sent where PostgreSQL can hold it,
shown escaped with the item as sent in ``raw_b64`` where it cannot (NUL, lone
surrogates). No string of one item can fail the batch's INSERT."""

import base64
import json

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import BaseCase

from ..services.ingest import _storable, _storable_rows
from .common import ShopfloorCase

# Text PostgreSQL stores as sent.
STORABLE = {
    "c0_controls": "".join(chr(code) for code in range(1, 32)) + "\x7f",
    "noncharacters": "\ufffe\uffff",
    "cr_and_lf": "one\rtwo\nthree\r\nfour",
    "emoji_4096": "\U0001f600" * 4096,
}


def sent_item(record):
    """The item as sent, from the event's raw_b64."""
    return json.loads(base64.b64decode(record.raw_b64).decode("utf-8"))


@tagged("post_install", "-at_install")
class TestIngestText(ShopfloorCase):
    def started(self, production=None, data=None, **envelope):
        data = {"order": (production or self.mo1).name, "operation": "Cutting", **(data or {})}
        return self.make_event("workorder.started", data, **envelope)

    def stored_column(self, record, column):
        """A column as PostgreSQL holds it (no ORM cache between)."""
        self.env.flush_all()
        self.env.cr.execute(f"SELECT {column} FROM shopfloor_event WHERE id = %s", [record.id])
        return self.env.cr.fetchone()[0]

    def test_text_postgresql_stores_arrives_exactly(self):
        for name, text in STORABLE.items():
            with self.subTest(name):
                production = self._make_mo(1)
                event = self.started(production, {"note": text}, subject=text, id=f"{name}-\x01\r\n-\ufffe")
                result, record = self.ingest_one(event)
                self.assertEqual(result["status"], "applied", result["error"])
                self.assertEqual(result["id"], event["id"])
                self.assertEqual(json.loads(self.stored_column(record, "raw_payload")), event)
                self.assertEqual(json.loads(self.stored_column(record, "data_json"))["note"], text)
                self.assertEqual(self.stored_column(record, "subject"), text)
                self.assertEqual(self.stored_column(record, "event_uid"), event["id"])
                self.assertFalse(record.raw_b64 or record.ingest_note)

    def test_a_nul_padded_order_name_is_shown_escaped_and_fails_visibly(self):
        # A PLC string field of fixed width, padded with NULs.
        event = self.started(data={"order": self.mo1.name + "\x00\x00"}, subject="S7\x00")
        result, record = self.ingest_one(event)
        self.assertEqual(result["status"], "pending")
        escaped = self.mo1.name + "\\x00\\x00"
        self.assertIn(f"Unknown order {escaped!r}", result["error"])
        self.assertEqual(record._get_data()["order"], escaped)
        self.assertEqual(record.subject, "S7\\x00")
        self.assertEqual(json.loads(record.raw_payload), event)
        self.assertEqual(sent_item(record), event)
        self.assertIn("at $.data.order, $.subject.", record.ingest_note)
        self.assertIn("Raw bytes (base64)", record.ingest_note)
        self.assertEqual(record.history_ids.mapped("action"), ["ingest", "pending"])

    def test_lone_surrogates_are_shown_escaped_and_kept_in_raw_b64(self):
        event = self.started(data={"operator": "Jos\udce9", "\ud800key": "\udfff"}, id="id-\ud83d")
        result, record = self.ingest_one(event)
        self.assertEqual(result["status"], "applied", result["error"])
        # The answer must encode to UTF-8: the id comes back with the surrogate escaped.
        self.assertEqual(result["id"], "id-\\ud83d")
        self.assertEqual(record._get_data()["operator"], "Jos\\udce9")
        self.assertEqual(record._get_data()["\\ud800key"], "\\udfff")
        self.assertTrue(record.event_uid.startswith("sha256:"))
        self.assertEqual(sent_item(record), event)
        self.assertEqual(json.loads(record.raw_payload), event)
        # A resend of the same item is the same event.
        [again] = self.ingest(dict(event))
        self.assertEqual((again["status"], again["event_id"]), ("duplicate", record.id))

    def test_edit_and_retry_of_an_escaped_event_works_on_the_escaped_text(self):
        event = self.started(data={"order": "WH/MO/\x00"}, subject="\ud800")
        _result, record = self.ingest_one(event)
        record.action_edit_and_retry(json.dumps({"order": self.mo1.name, "operation": "Cutting"}))
        self.assertEqual(record.state, "applied", record.error_message)
        self.assertEqual(record.subject, "\\ud800")
        self.assertEqual(sent_item(record), event)

    def test_one_batch_of_every_kind_of_text_gives_every_item_its_row(self):
        items = [
            self.started(),
            *(self.started(self._make_mo(1), {"note": text}, subject=text) for text in STORABLE.values()),
            self.started(data={"order": self.mo1.name + "\x00"}),
            self.started(data={"operator": "\ud800"}),
            self.started(data={"ke\x00y": "v"}),
            self.started(source="plant1/line1/press-01\x00"),
            self.started(source="plant1/\udfff"),
            self.started(connection="test-conn\x00"),
            self.started(subject="\x00" * 4096),
            self.make_event("workorder.\x00started", {"order": self.mo1.name}),
            self.make_event("workorder.started\ud800", {"order": self.mo1.name}),
            self.started(time="2026-11-23T08:00:00\x00Z"),
            self.started(observedtime="2026-11-23T08:00:00Z\ud800"),
            {
                "rejected": True,
                "id": "r\x00",
                "source": "s\ud800",
                "connection": "test-conn\x00",
                "raw_b64": base64.b64encode(b"\x00\xff").decode(),
                "reason": "not JSON \x00 \ud800",
            },
            "\x00 a string, not an event \ud800",
        ]
        results = self.ingest(*items)
        self.assertEqual(len(results), len(items))
        event_ids = [result["event_id"] for result in results]
        self.assertEqual(len(set(event_ids)), len(items), results)
        self.assertNotIn(0, event_ids)
        self.assertNotIn("duplicate", [result["status"] for result in results])
        statuses = [result["status"] for result in results]
        self.assertEqual(statuses[: 1 + len(STORABLE)], ["applied"] * (1 + len(STORABLE)), results)
        self.assertEqual(statuses[-6:], ["rejected"] * 6, results)
        for item, result in zip(items, results, strict=True):
            record = self.env["shopfloor.event"].browse(result["event_id"])
            self.assertTrue(record.exists())
            if isinstance(item, dict) and not item.get("rejected"):
                self.assertEqual(json.loads(record.raw_payload), item)
            json.dumps(result, ensure_ascii=False).encode("utf-8")  # the answer can be sent


@tagged("post_install", "-at_install")
class TestIngestTextOverJsonRpc(HttpCase):
    """The same items through Odoo's real /jsonrpc: the body's escapes decode to
    NUL and lone surrogates, and the answer still encodes."""

    def test_nul_and_lone_surrogates_through_jsonrpc(self):
        sidecar = new_test_user(
            self.env, "sf-text-sidecar", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_integration"
        )
        self.env["shopfloor.connection"].create(
            {"code": "text-conn", "name": "Text", "integration_user_ids": [(4, sidecar.id)]}
        )
        item = {
            "specversion": "1.0",
            "id": "j-\ud800",
            "source": "plant9/\x00",
            "type": "workorder.started",
            "connection": "text-conn",
            "time": "2026-11-23T08:00:00Z",
            "subject": "\x00\udfff",
            "data": {"order": "WH/MO/\x00"},
        }
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {
                    "service": "object",
                    "method": "execute_kw",
                    "args": [self.env.cr.dbname, sidecar.id, "sf-text-sidecar", "shopfloor.event", "ingest", [[item]]],
                },
            }
        )
        self.assertIn("\\ud800", body)
        response = self.url_open("/jsonrpc", data=body, headers={"Content-Type": "application/json"})
        self.assertEqual(response.status_code, 200)
        answer = response.json()
        self.assertNotIn("error", answer, answer.get("error"))
        [result] = answer["result"]
        self.assertEqual((result["id"], result["source"]), ("j-\\ud800", "plant9/\x00"))
        record = self.env["shopfloor.event"].browse(result["event_id"])
        self.assertEqual(json.loads(base64.b64decode(record.raw_b64)), item)
        self.assertNotEqual(record.error_class, "forbidden")
        self.assertEqual(record.subject, "\\x00\\udfff")


@tagged("post_install", "-at_install")
class TestIngestStorableRows(BaseCase):
    """The INSERT's last guard, run once over the batch, equals running it on every value."""

    def test_batch_guard_equals_the_guard_of_each_value(self):
        plain = [["a", 1, None, True, 2**31 - 1], ["b", -(2**31 - 1), 2.5, False, "emoji \U0001f600"]]
        cases = {
            "nothing to change": plain,
            "a NUL": [*plain, ["c\x00d", 1, None, True, 0]],
            "a lone surrogate": [*plain, ["e\ud800", 1, None, True, 0]],
            "an integer past int4": [*plain, ["f", 2**31, None, True, -(2**40)]],
        }
        for name, rows in cases.items():
            with self.subTest(name):
                self.assertEqual(_storable_rows(rows), [[_storable(value) for value in row] for row in rows])
        self.assertIs(_storable_rows(plain), plain)
