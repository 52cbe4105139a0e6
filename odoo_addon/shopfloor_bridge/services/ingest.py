"""Ingest: a batch of CloudEvents in, one idempotent multi-row INSERT, the new events applied.

``shopfloor.event.ingest`` checks who calls and delegates here. ``IngestContext``
turns each item into the row to store (validation, connection scope, notes on
receipt); ``IngestService.store`` writes the batch; the apply of what is new is
``services/apply.py``'s.
"""

import base64
import binascii
import hashlib
import json
from contextlib import suppress

from psycopg2.extras import execute_values

from odoo import fields

from ..event_validation import (
    MAX_EVENT_BYTES,
    MAX_INGEST_BATCH,
    inspect_event,
    parse_time,
    serialize,
)
from ..exceptions import EventRejected
from ..rpc_errors import rpc_error
from ..storable_text import UNSTORABLE, answerable, escape, escape_deep, may_hold_unstorable
from .apply import ApplyService

KEY_MAX_CHARS = 256
INT4_MAX = 2**31 - 1
DEFAULT_SKEW_BOUND_MS = 5000
NOTE_PATHS_SHOWN = 20
# Events of a connection in batch mode (historian import): stored, applied by the cron at the batch time.
BATCH_CLASS = "batch"
STORED_COLUMNS = (
    "event_uid source type time subject data_json raw_payload raw_b64 raw_size raw_truncated "
    "connection_code connection_id key_scope company_id workcenter_id sidecar_mapping_revision observed_time "
    "ingest_time skew_ms skew_flagged ingest_note state attempts error_class error_message next_retry_at"
).split()


def _text(value):
    """Text PostgreSQL accepts: NUL and lone surrogates shown escaped, not dropped."""
    return escape(value) if isinstance(value, str) else value


def _storable(value):
    """Last guard of the INSERT: no value of one item may fail the batch's statement."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -INT4_MAX <= value <= INT4_MAX:
        return INT4_MAX if value > 0 else -INT4_MAX
    return value


def _storable_rows(values):
    """``_storable`` over every value of the INSERT's rows. Nearly every batch
    holds nothing to change: one search over all its texts says so."""
    texts = [value for row in values for value in row if isinstance(value, str)]
    wide = any(
        isinstance(value, int) and not isinstance(value, bool) and not -INT4_MAX <= value <= INT4_MAX
        for row in values
        for value in row
    )
    if not wide and not UNSTORABLE.search("\n".join(texts)):
        return values
    return [[_storable(value) for value in row] for row in values]


def _key(value, raw_fallback):
    """(source, id) part for the unique key: the value when it is text PostgreSQL
    stores as sent, else a digest of it (a resend of the same garbage is then a
    duplicate, not a second row; two different values never share a key)."""
    if isinstance(value, str) and 0 < len(value) <= KEY_MAX_CHARS and not UNSTORABLE.search(value):
        return value
    basis = value if isinstance(value, str) and value else raw_fallback
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def _is_int4(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT4_MAX


def _paths(paths):
    shown = ", ".join(paths[:NOTE_PATHS_SHOWN])
    return shown + (f" and {len(paths) - NOTE_PATHS_SHOWN} more" if len(paths) > NOTE_PATHS_SHOWN else "")


class IngestService:
    """One ``ingest`` call: validate and store the batch, then apply the new events.

    ``allowed``: the connections the caller acts for (``check_rpc_caller``),
    None for the superuser."""

    def __init__(self, env, allowed=None):
        self.env = env
        self.allowed = allowed

    def ingest(self, events):
        """Returns one ``{id, source, status, event_id, error}`` per item, in order."""
        if not isinstance(events, list | tuple):
            raise rpc_error("bad_request", self.env._("ingest takes a list of events, got %s.", type(events).__name__))
        if len(events) > MAX_INGEST_BATCH:
            raise rpc_error(
                "batch_too_large",
                self.env._(
                    "ingest takes at most %(max)s events per call, got %(count)s: split the batch.",
                    max=MAX_INGEST_BATCH,
                    count=len(events),
                ),
            )
        if not events:
            return []
        context = IngestContext(self.env, self.allowed)
        rows = [context.prepare(item) for item in events]
        results = self.store(rows)
        events_model = self.env["shopfloor.event"].sudo()
        to_apply = events_model.browse(
            [
                row["event_id"]
                for row in rows
                if row["is_new"] and row["state"] == "pending" and row["columns"].get("error_class") != BATCH_CLASS
            ]
        )
        # Stored events are due now: when the apply is deferred the cron picks them up.
        if to_apply and self.env.context.get("shopfloor_defer_apply"):
            events_model._trigger_retry_cron()
        elif to_apply:
            outcomes = ApplyService(to_apply.env).apply_with_waiting(to_apply)
            for row, result in zip(rows, results, strict=True):
                if row["is_new"] and row["event_id"] in outcomes:
                    result["status"], result["error"] = outcomes[row["event_id"]]
        if any(result["status"] in ("rejected", "failed") for result in results):
            events_model._notify_dlq_growth(context.connections_used())
        return results

    def store(self, rows):
        """One multi-row INSERT … ON CONFLICT DO NOTHING; fills row['event_id'] and ['is_new']."""
        events_model = self.env["shopfloor.event"].sudo()
        cr = self.env.cr
        now = fields.Datetime.now()
        uid = self.env.uid
        columns = STORED_COLUMNS
        events_model.flush_model()
        # Keys of events the retention purge removed still answer `duplicate`.
        purged = events_model.env["shopfloor.event.key"]._purged_keys(
            {(row["columns"]["key_scope"], row["source"], row["event_uid"]) for row in rows}
        )
        seen = {}
        values = []
        for row in rows:
            key = (row["columns"]["key_scope"], row["source"], row["event_uid"])
            if key in seen:  # the same event twice in one batch: the second is a duplicate
                row["duplicate_of"] = seen[key]
                continue
            seen[key] = row
            if key in purged:
                continue
            get = row["columns"].get
            values.append([get(column) for column in columns] + [uid, now, uid, now])
        values = _storable_rows(values)
        query = (
            f"INSERT INTO shopfloor_event ({', '.join(columns)}, create_uid, create_date, write_uid, write_date) "
            "VALUES %s ON CONFLICT (key_scope, source, event_uid) DO NOTHING RETURNING id, key_scope, source, event_uid"
        )
        inserted = execute_values(cr._obj, query, values, page_size=len(values), fetch=True) if values else []
        new_ids = {(scope, source, uid_): event_id for event_id, scope, source, uid_ in inserted}
        conflicts = [key for key in seen if key not in new_ids and key not in purged]
        existing = dict(purged)
        if conflicts:
            cr.execute(
                "SELECT id, key_scope, source, event_uid FROM shopfloor_event WHERE event_uid = ANY(%s)",
                [[uid_ for _scope, _source, uid_ in conflicts]],
            )
            existing.update({(scope, source, uid_): event_id for event_id, scope, source, uid_ in cr.fetchall()})
        events_model.invalidate_model()
        logs = []
        results = []
        for row in rows:
            key = (row["columns"]["key_scope"], row["source"], row["event_uid"])
            if key in new_ids and "duplicate_of" not in row:
                row["event_id"], row["is_new"] = new_ids[key], True
                status = "rejected" if row["state"] == "rejected" else "pending"
                if row["columns"].get("ingest_note"):
                    logs.append(
                        {
                            "event_id": row["event_id"],
                            "action": "ingest",
                            "state": row["state"],
                            "note": _storable(row["columns"]["ingest_note"]),
                        }
                    )
                if row["state"] == "rejected":
                    logs.append(
                        {
                            "event_id": row["event_id"],
                            "action": "reject",
                            "state": "rejected",
                            "note": _storable(row["columns"]["error_message"]),
                        }
                    )
            else:
                row["event_id"], row["is_new"] = new_ids.get(key) or existing.get(key, 0), False
                status = "duplicate"
            results.append(
                {
                    "id": row["reply_id"],
                    "source": row["reply_source"],
                    "status": status,
                    "event_id": row["event_id"],
                    "error": answerable(row["columns"]["error_message"] or "") if status == "rejected" else "",
                }
            )
        if logs:
            events_model.env["shopfloor.event.log"]._create_rows(logs)
        return results


class IngestContext:
    """Per-call lookups for ingest: connections and work centers read once per batch."""

    def __init__(self, env, allowed=None):
        self.env = env
        self.now = fields.Datetime.now()
        self._connections = {}
        self._source_maps = {}
        self._workcenters = {}
        self._scopes = {}
        self._batch_due = {}
        self.companies = env.user.company_ids if not env.su else env["res.company"].sudo().search([])
        # The connections the caller acts for (None: the superuser, any). An event
        # naming another is stored rejected under the caller's own connection.
        self.allowed = allowed
        self.home = allowed.filtered("active")[:1] or allowed[:1] if allowed is not None else None

    def connections_used(self):
        return self.env["shopfloor.connection"].sudo().browse([c.id for c in self._connections.values() if c])

    def connection(self, code):
        if not isinstance(code, str) or not code:
            return self.env["shopfloor.connection"].sudo()
        code = escape(code)
        if code not in self._connections:
            found = self.allowed.filtered(lambda c: c.active and c.code == code)[:1] if self.allowed else None
            self._connections[code] = found or (
                self.env["shopfloor.connection"]
                .sudo()
                .search([("code", "=", code), ("company_id", "in", self.companies.ids)], limit=1)
            )
        return self._connections[code]

    def refusal(self, code, connection):
        """Why the caller may not send an event naming ``code`` ('' when it may)."""
        if self.allowed is None or (connection and connection in self.allowed):
            return ""
        user = self.env.user.login
        if connection:
            return self.env._(
                "User %(user)s may not act for connection %(code)s (company %(company)s): it is not one of its "
                "integration users. The event was stored here, under %(home)s, and not applied.",
                user=user,
                code=connection.code,
                company=connection.company_id.name,
                home=self.home.code,
            )
        if not isinstance(code, str) or not code:
            return self.env._(
                "The event names no connection: the sidecar puts its SHOPFLOOR_CONNECTION in every event's "
                "'connection'. It was stored under %(home)s, the connection %(user)s acts for, and not applied.",
                user=user,
                home=self.home.code,
            )
        return self.env._(
            "The event names connection %(code)s, which is not a connection %(user)s acts for (%(codes)s). "
            "It was stored under %(home)s and not applied.",
            code=code[:64],
            user=user,
            codes=", ".join(self.allowed.mapped("code")),
            home=self.home.code,
        )

    def scope(self, columns, code, connection):
        """Fills the connection, company and key scope of a row; refuses what the caller may not send."""
        # Once per connection named in the batch (the refusal names the code: per code).
        key = (code if isinstance(code, str) else None, connection.id)
        if key not in self._scopes:
            refused = self.refusal(code, connection)
            owner = self.home if refused else connection
            self._scopes[key] = (
                refused,
                {
                    "connection_id": owner.id or None,
                    "key_scope": owner.id or 0,
                    "company_id": (owner.company_id or self.env.company).id,
                },
            )
        refused, owned = self._scopes[key]
        columns.update(owned)
        if refused:
            columns.update(
                {
                    "state": "rejected",
                    "error_class": "forbidden",
                    "error_message": refused,
                    "workcenter_id": None,
                    "next_retry_at": None,
                }
            )

    def _batch(self, columns):
        """Historian import (issue 19): a connection in batch mode has its events stored now and applied by
        the retry cron from its next batch time on (``next_retry_at``); ``ingest`` does not apply them."""
        connection_id = columns.get("connection_id")
        if columns.get("state") != "pending" or not connection_id:
            return
        if connection_id not in self._batch_due:
            connection = self.env["shopfloor.connection"].sudo().browse(connection_id)
            self._batch_due[connection_id] = (
                connection._next_batch_time(self.now) if connection.apply_mode == "batch" else None
            )
        due = self._batch_due[connection_id]
        if due is not None:
            columns.update(
                {
                    "error_class": BATCH_CLASS,
                    "error_message": self.env._("Batch import: applied by the cron from %s UTC.", due),
                    "next_retry_at": due,
                }
            )

    def _maps_of(self, connection):
        if connection.id not in self._source_maps:
            self._source_maps[connection.id] = {
                row.source: row.workcenter_id.id for row in connection.sudo().source_map_ids
            }
        return self._source_maps[connection.id]

    def workcenter_for(self, connection, event):
        source = event.get("source")
        if connection and isinstance(source, str):
            found = self._maps_of(connection).get(escape(source))
            if found:
                return found
        data = event.get("data")
        name = data.get("workcenter") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name:
            return False
        name = escape(name)
        company = connection.company_id if connection else self.env.company
        key = (company.id, name)
        if key not in self._workcenters:
            workcenter = (
                self.env["mrp.workcenter"]
                .sudo()
                .search(
                    [("company_id", "in", [company.id, False]), "|", ("code", "=", name), ("name", "=", name)],
                    limit=1,
                )
            )
            self._workcenters[key] = workcenter.id
        return self._workcenters[key]

    def prepare(self, item):
        """One input item → the row to insert and the reply fields.

        The item is validated as sent (the sidecar's ajv counts the same
        characters); it is stored, looked up and applied in its storable form,
        where NUL and lone surrogates are shown escaped (``storable_text``).
        """
        if isinstance(item, dict) and item.get("rejected") is True:
            return self._prepare_rejected_input(item)
        serialized = serialize(item)
        shown, escaped_at = escape_deep(item) if may_hold_unstorable(serialized) else (item, [])
        sent = item if isinstance(item, dict) else {}
        event = shown if isinstance(shown, dict) else {}
        connection = self.connection(event.get("connection"))
        notes = []
        columns = {
            "event_uid": _key(sent.get("id"), serialized),
            "source": _key(sent.get("source"), "no-source"),
            "raw_payload": serialized[: MAX_EVENT_BYTES * 2],
            "raw_size": len(serialized.encode("utf-8")),
            "connection_code": event.get("connection")[:64] if isinstance(event.get("connection"), str) else None,
            "ingest_time": self.now,
            "attempts": 0,
            "raw_truncated": False,
            "skew_flagged": False,
        }
        if escaped_at:
            columns["raw_b64"] = base64.b64encode(serialized.encode("utf-8")).decode("ascii")
            notes.append(
                self.env._(
                    "Text PostgreSQL cannot store (NUL, lone surrogates) is shown escaped as \\x00 or \\udXXX "
                    "at %(paths)s. The event was validated as sent and is applied with the escaped text; the "
                    "item as sent is in Raw bytes (base64).",
                    paths=_paths(escaped_at),
                )
            )
        try:
            time, observed, unsafe = inspect_event(item, serialized)
        except EventRejected as error:
            columns.update(
                {
                    "state": "rejected",
                    "error_class": error.error_class,
                    "error_message": error.message,
                    "type": event.get("type")[:256] if isinstance(event.get("type"), str) else None,
                    "data_json": json.dumps(event.get("data"), ensure_ascii=False, default=repr)
                    if "data" in event
                    else None,
                }
            )
        else:
            skew_ms = int((observed - time).total_seconds() * 1000) if observed else 0
            bound = connection.skew_bound_ms if connection else DEFAULT_SKEW_BOUND_MS
            if abs(skew_ms) > INT4_MAX:
                notes.append(
                    self.env._(
                        "The source clock is off by %(days)s days (observed time − time = %(skew)s ms): Skew (ms) "
                        "holds at most ±24.8 days and shows that bound.",
                        days=round(skew_ms / 86_400_000, 1),
                        skew=skew_ms,
                    )
                )
            if unsafe:
                notes.append(
                    self.env._(
                        "Integers beyond 2^53 at %(paths)s are stored exactly here; JavaScript readers (the "
                        "sidecar, the web client) see them rounded.",
                        paths=_paths(unsafe),
                    )
                )
            columns.update(
                {
                    "state": "pending",
                    "type": event["type"],
                    "time": time,
                    "subject": event.get("subject"),
                    "data_json": json.dumps(event.get("data", {}), ensure_ascii=False),
                    "observed_time": observed,
                    "skew_ms": max(-INT4_MAX, min(INT4_MAX, skew_ms)),
                    "skew_flagged": bound > 0 and abs(skew_ms) > bound,
                    "sidecar_mapping_revision": event.get("mappingrev") or 0,
                    "workcenter_id": self.workcenter_for(connection, event) or None,
                    "error_message": None,
                    "next_retry_at": self.now,
                }
            )
        columns["ingest_note"] = "\n".join(notes) or None
        self.scope(columns, event.get("connection"), connection)
        self._batch(columns)
        return {
            "columns": columns,
            "state": columns["state"],
            "event_uid": columns["event_uid"],
            "source": columns["source"],
            "reply_id": answerable(sent["id"]) if isinstance(sent.get("id"), str) else "",
            "reply_source": answerable(sent["source"]) if isinstance(sent.get("source"), str) else "",
        }

    def _prepare_rejected_input(self, item):
        """The sidecar could not parse these bytes: keep them all, visibly, as rejected."""
        encoded = item.get("raw_b64") if isinstance(item.get("raw_b64"), str) else ""
        reason = item.get("reason") if isinstance(item.get("reason"), str) else ""
        try:
            raw = base64.b64decode(encoded, validate=True)
            shown = raw.decode("utf-8", "backslashreplace")
        except (binascii.Error, ValueError):
            raw = encoded.encode()
            shown = encoded
            reason = f"{reason} (raw_b64 was not valid base64; kept as sent)"
        connection = self.connection(item.get("connection"))
        fallback = hashlib.sha256(raw).hexdigest()
        columns = {
            "event_uid": _key(item.get("id"), fallback),
            "source": _key(item.get("source"), "no-source"),
            "raw_payload": _text(shown),
            "raw_b64": encoded,
            "raw_size": item["raw_size"] if _is_int4(item.get("raw_size")) else len(raw),
            "raw_truncated": bool(item.get("truncated")),
            "connection_code": _text(item.get("connection"))[:64] if isinstance(item.get("connection"), str) else None,
            "ingest_time": self.now,
            "attempts": 0,
            "state": "rejected",
            "error_class": "invalid",
            "error_message": _text(reason[:4096] or "rejected by the sidecar (no reason given)"),
        }
        # An unreadable observedtime stays empty: the event is stored as rejected anyway.
        with suppress(EventRejected):
            if isinstance(item.get("observedtime"), str):
                columns["observed_time"] = parse_time(item["observedtime"], "observedtime")
        self.scope(columns, item.get("connection"), connection)
        return {
            "columns": columns,
            "state": "rejected",
            "event_uid": columns["event_uid"],
            "source": columns["source"],
            "reply_id": answerable(item["id"]) if isinstance(item.get("id"), str) else "",
            "reply_source": answerable(item["source"]) if isinstance(item.get("source"), str) else "",
        }
