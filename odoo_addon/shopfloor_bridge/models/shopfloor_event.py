"""The inbox: every event the floor sent, what became of it, and the DLQ actions.

Queue semantics (what an error class means, how long to wait) live outside
the model: ``exceptions.py`` decides retry vs dead-letter, ``backoff.py`` the
delays, ``event_validation.py`` what is valid, ``handlers/`` the effects.
"""

import base64
import binascii
import hashlib
import json
import logging
import traceback
from contextlib import suppress
from datetime import timedelta
from time import monotonic

from psycopg2.extras import execute_values

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from .. import backoff
from ..event_validation import (
    MAX_EVENT_BYTES,
    MAX_INGEST_BATCH,
    parse_time,
    serialize,
    unsafe_integers,
    validate_event,
)
from ..exceptions import EventPending, EventRejected, PermanentError
from ..field_guard import refuse_protected_write
from ..rpc_errors import rpc_error
from ..storable_text import UNSTORABLE, answerable, escape, escape_deep, may_hold_unstorable
from .shopfloor_connection import MANAGER_GROUP, check_rpc_caller, iso_utc

_logger = logging.getLogger(__name__)

DLQ_STATES = ("failed", "dead", "rejected")
RETRYABLE_STATES = ("pending", "failed")
# A pending event (waiting for its predecessor) is retried sooner than a failed one.
PENDING_BACKOFF_CAP_SECONDS = 300
KEY_MAX_CHARS = 256
DEFAULT_RETENTION_DAYS = 90
# The idempotency keys of purged events answer `duplicate` this long after
# the event was applied (never shorter than the events' own retention).
KEY_RETENTION_PARAM = "shopfloor_bridge.key_retention_days"
DEFAULT_KEY_RETENTION_DAYS = 730
ENVELOPE_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data")
INT4_MAX = 2**31 - 1
DEFAULT_SKEW_BOUND_MS = 5000
# Apply work per call (ingest, cron run, DLQ action), well under Odoo's default
# limit_time_cpu (60 s) and limit_time_real (120 s): what does not fit stays
# pending, due now, for the next call or the retry cron.
APPLY_BUDGET_PARAM = "shopfloor_bridge.ingest_apply_budget_ms"
DEFAULT_APPLY_BUDGET_MS = 10000
# Pending events of the batch's work centers that one ingest call looks at.
WAITING_LIMIT = 1000
NOTE_PATHS_SHOWN = 20
# Every field of an event is written by ingest, apply and the DLQ actions
# (sudo, logged in its history); a plain write or create is refused.
AUDITED_ACTIONS = {
    "state": "Retry / Discard",
    "data_json": "Edit and retry",
    "type": "Edit and retry",
    "time": "Edit and retry",
    "discard_reason": "Discard",
}


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


class ApplyOutcomes(dict):
    """``{event_id: (status, error)}``; ``deferred`` holds the ids the apply budget left pending."""

    def __init__(self):
        super().__init__()
        self.deferred = set()


class ShopfloorEvent(models.Model):
    _name = "shopfloor.event"
    _description = "Shop Floor Event"
    _order = "time desc, id desc"
    _rec_name = "event_uid"

    # Envelope
    event_uid = fields.Char(string="Event id", required=True, readonly=True, index=True)
    source = fields.Char(required=True, readonly=True)
    type = fields.Char(readonly=True, index=True)
    time = fields.Datetime(readonly=True, index=True, help="The source clock (UTC).")
    subject = fields.Char(readonly=True)
    data_json = fields.Text(string="Data (JSON)", readonly=True)
    original_data_json = fields.Text(
        string="Original data (JSON)", readonly=True, help="The data as received, kept when a person edits it."
    )
    raw_payload = fields.Text(
        readonly=True,
        help="The item exactly as received, as JSON text (invalid bytes shown as \\xNN, NUL and lone "
        "surrogates as JSON escapes).",
    )
    raw_b64 = fields.Text(
        string="Raw bytes (base64)",
        readonly=True,
        help="The bytes as sent: for input the sidecar could not parse, and for events holding text "
        "PostgreSQL cannot store (the item's JSON text).",
    )
    ingest_note = fields.Text(
        string="Notes on receipt",
        readonly=True,
        help="What ingest changed or flagged: text escaped for PostgreSQL, a skew beyond what Skew (ms) "
        "holds, integers JavaScript reads rounded.",
    )
    raw_size = fields.Integer(readonly=True)
    raw_truncated = fields.Boolean(readonly=True)
    connection_code = fields.Char(readonly=True, help="The connection the envelope named.")
    connection_id = fields.Many2one("shopfloor.connection", readonly=True, index=True, ondelete="set null")
    key_scope = fields.Integer(
        readonly=True,
        required=True,
        default=0,
        help="The connection the idempotency key (source, id) is scoped to (0: none): two plants may "
        "send the same source and id.",
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    workcenter_id = fields.Many2one("mrp.workcenter", readonly=True, index=True)
    production_id = fields.Many2one("mrp.production", readonly=True, index="btree_not_null")
    workorder_id = fields.Many2one("mrp.workorder", readonly=True, index="btree_not_null")
    sidecar_mapping_revision = fields.Integer(readonly=True, help="The mapping revision the sidecar used.")
    mapping_revision = fields.Integer(readonly=True, help="The connection's revision the event was applied under.")

    # Times
    observed_time = fields.Datetime(readonly=True, help="When the sidecar received it (canonical clock).")
    ingest_time = fields.Datetime(readonly=True, help="When Odoo stored it.")
    applied_time = fields.Datetime(readonly=True, index="btree_not_null")
    skew_ms = fields.Integer(
        string="Skew (ms)",
        readonly=True,
        help="observed time − source time, held to ±24.8 days (the exact skew is in the notes beyond that).",
    )
    skew_flagged = fields.Boolean(
        string="Skew over bound",
        readonly=True,
        help="The source clock was off by more than the connection's skew bound.",
    )

    # Processing
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("applied", "Applied"),
            ("failed", "Failed"),
            ("dead", "Dead"),
            ("rejected", "Rejected"),
            ("discarded", "Discarded"),
        ],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_retry_at = fields.Datetime(readonly=True)
    pending_since = fields.Datetime(readonly=True)
    error_class = fields.Char(readonly=True, index=True)
    error_message = fields.Text(readonly=True)
    error_traceback = fields.Text(readonly=True)
    result_refs = fields.Text(string="Produced records", readonly=True, help="One model,id per line.")
    discard_reason = fields.Text(readonly=True)
    history_ids = fields.One2many("shopfloor.event.log", "event_id", string="History", readonly=True)

    _sql_constraints = [
        (
            "source_uid_uniq",
            "unique(key_scope, source, event_uid)",
            "An event (source, id) is stored once per connection.",
        ),
    ]

    def init(self):
        # The retry cron's query: only waiting events, by due time.
        tools.create_index(
            self.env.cr,
            "shopfloor_event_retry_due_idx",
            self._table,
            ["next_retry_at"],
            where="state IN ('pending', 'failed')",
        )
        tools.create_index(self.env.cr, "shopfloor_event_wc_time_idx", self._table, ["workcenter_id", "time"])

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            refuse_protected_write(self, vals, self._guarded_fields(), "create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, self._guarded_fields())
        return super().write(vals)

    def _guarded_fields(self):
        return {name: AUDITED_ACTIONS.get(name) for name in self._fields}

    # ------------------------------------------------------------------ helpers

    def _get_data(self):
        """The event's data as a dict ({} when absent)."""
        self.ensure_one()
        try:
            data = json.loads(self.data_json or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _as_cloudevent(self):
        """The event as a CloudEvent dict (the edited data when a person edited it)."""
        self.ensure_one()
        try:
            envelope = json.loads(self.raw_payload or "{}")
        except ValueError:
            envelope = {}
        if not isinstance(envelope, dict) or envelope.get("rejected") is True:
            envelope = {}
        envelope = escape_deep(envelope)[0]  # raw_payload keeps NUL and lone surrogates as sent
        envelope.update(
            {"specversion": envelope.get("specversion", "1.0"), "id": self.event_uid, "source": self.source}
        )
        if self.type:
            envelope["type"] = self.type
        if self.time:
            envelope["time"] = iso_utc(self.time)
        envelope["data"] = self._get_data()
        return envelope

    def _check_manager(self):
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Shop Floor Bridge managers may act on the dead-letter queue."))

    # ------------------------------------------------------------------ ingest

    @api.model
    def ingest(self, events):
        """Stores a batch of CloudEvents idempotently, then applies the new ones.

        Returns one ``{id, source, status, event_id, error}`` per item, in order.
        With ``shopfloor_defer_apply`` in the context the events are only stored
        (``pending``, due now) and the retry cron applies them: a plant that
        bursts faster than Odoo applies can keep its ingest calls short.
        """
        allowed = check_rpc_caller(self.env)
        if not isinstance(events, list | tuple):
            raise rpc_error("bad_request", _("ingest takes a list of events, got %s.", type(events).__name__))
        if len(events) > MAX_INGEST_BATCH:
            raise rpc_error(
                "batch_too_large",
                _(
                    "ingest takes at most %(max)s events per call, got %(count)s: split the batch.",
                    max=MAX_INGEST_BATCH,
                    count=len(events),
                ),
            )
        if not events:
            return []
        context = _IngestContext(self.env, allowed)
        rows = [context.prepare(item) for item in events]
        results = self.sudo()._store(rows)
        to_apply = self.sudo().browse([row["event_id"] for row in rows if row["is_new"] and row["state"] == "pending"])
        # Stored events are due now: when the apply is deferred the cron picks them up.
        if to_apply and self.env.context.get("shopfloor_defer_apply"):
            self._trigger_retry_cron()
        elif to_apply:
            outcomes = to_apply._apply_with_waiting()
            for row, result in zip(rows, results, strict=True):
                if row["is_new"] and row["event_id"] in outcomes:
                    result["status"], result["error"] = outcomes[row["event_id"]]
        if any(result["status"] in ("rejected", "failed") for result in results):
            self.sudo()._notify_dlq_growth(context.connections_used())
        return results

    def _store(self, rows):
        """One multi-row INSERT … ON CONFLICT DO NOTHING; fills row['event_id'] and ['is_new']."""
        cr = self.env.cr
        now = fields.Datetime.now()
        uid = self.env.uid
        columns = (
            "event_uid source type time subject data_json raw_payload raw_b64 raw_size raw_truncated "
            "connection_code connection_id key_scope company_id workcenter_id sidecar_mapping_revision observed_time "
            "ingest_time skew_ms skew_flagged ingest_note state attempts error_class error_message next_retry_at"
        ).split()
        self.flush_model()
        # Keys of events the retention purge removed still answer `duplicate`.
        purged = self.env["shopfloor.event.key"]._purged_keys(
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
            values.append(tuple(_storable(row["columns"].get(c)) for c in columns) + (uid, now, uid, now))
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
        self.invalidate_model()
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
            self.env["shopfloor.event.log"].create(logs)
        return results

    # ------------------------------------------------------------------ apply

    def _apply_with_waiting(self):
        """Applies these new events after the events still pending on their work
        centers that may go now: left by an earlier call's apply budget or a
        deferred ingest, due for their retry, or not older than the oldest new
        event (whose predecessor may be among the new ones: a downtime end that
        came before its start). An event that waits for a predecessor older than
        everything new is left to its retry time: re-applying every waiting
        event on every call made each call slower as they piled up.
        Returns ``_apply_events``' outcomes."""
        workcenters = self.workcenter_id
        domain = [("state", "=", "pending"), ("id", "not in", self.ids)]
        may_go = [("error_class", "=", "deferred"), ("next_retry_at", "<=", fields.Datetime.now())]
        oldest_new = min((event.time for event in self if event.time), default=None)
        if oldest_new:
            may_go.append(("time", ">=", oldest_new))
        domain += ["|"] * (len(may_go) - 1) + may_go
        if any(not event.workcenter_id for event in self):
            domain += ["|", ("workcenter_id", "in", workcenters.ids), ("workcenter_id", "=", False)]
        else:
            domain += [("workcenter_id", "in", workcenters.ids)]
        waiting = self.search(domain, order="time, id", limit=WAITING_LIMIT)
        candidates = self | waiting
        if len(waiting) == WAITING_LIMIT:
            # More wait than one call looks at: nothing later than the last one looked
            # at is applied now, so no event overtakes an older one of its work center.
            last = (waiting[-1].time, waiting[-1].id)
            candidates = candidates.filtered(lambda event: (event.time or last[0], event.id) <= last)
        outcomes = candidates._apply_events()
        (self - candidates)._defer(outcomes, self._deferred_message(WAITING_LIMIT, "waiting"))
        return outcomes

    def _apply_budget_ms(self):
        """Milliseconds of apply work per call: context ``shopfloor_apply_budget_ms``,
        else the system parameter, else the default."""
        value = self.env.context.get("shopfloor_apply_budget_ms")
        if value is None:
            value = self.env["ir.config_parameter"].sudo().get_param(APPLY_BUDGET_PARAM, DEFAULT_APPLY_BUDGET_MS)
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            _logger.warning(
                "shopfloor_bridge: %s=%r is not a number; using %s", APPLY_BUDGET_PARAM, value, DEFAULT_APPLY_BUDGET_MS
            )
            return float(DEFAULT_APPLY_BUDGET_MS)

    def _deferred_message(self, amount, reason="budget"):
        if reason == "waiting":
            return _(
                "Deferred: more than %(count)s events wait on this work center; applied in time order by the "
                "next ingest call or the retry cron.",
                count=amount,
            )
        return _(
            "Deferred: this call's apply budget (%(ms)s ms, system parameter %(param)s) was spent; applied in "
            "time order by the next ingest call or the retry cron.",
            ms=int(amount),
            param=APPLY_BUDGET_PARAM,
        )

    def _trigger_retry_cron(self):
        if self.env.context.get("cron_id"):
            return  # the cron itself: it reports its progress and runs again
        cron = self.env.ref("shopfloor_bridge.shopfloor_event_cron_retry", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    def _apply_events(self):
        """Applies each event in its own savepoint, per work center in time order,
        within the apply budget (``_apply_budget_ms``).

        Returns ``ApplyOutcomes`` ({event_id: (status, error)}). Only events
        still pending/failed (and not locked by a concurrent run) are applied:
        the state check plus the row lock keep a retried transaction or a racing
        cron from applying an event twice. Once the budget is spent the rest
        stay pending, due now (``deferred``); the first event is always applied,
        so every call makes progress. Should the batched pass fail and the batch
        be applied again one by one, that pass gets a budget of its own.
        """
        from ..handlers.producing import DeferredSyncFailed, ProducingSync  # noqa: PLC0415

        if not self:
            return ApplyOutcomes()
        budget_ms = self._apply_budget_ms()
        self.flush_model()
        self.env.cr.execute(
            "SELECT id FROM shopfloor_event WHERE id = ANY(%s) AND state IN ('pending', 'failed') "
            "FOR UPDATE SKIP LOCKED",
            [self.ids],
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        ordered = claimed.sorted(lambda e: (e.workcenter_id.id or 0, e.time or fields.Datetime.now(), e.id))
        if len(ordered) > 1:
            # Batched: Odoo's stock cascade of production reports runs once per MO
            # (ProducingSync). Should it fail, nothing of the batched pass stays:
            # the whole batch is applied again one event at a time, so every
            # report ends applied with its effect, or failed with its error.
            try:
                with self.env.cr.savepoint():
                    return self._apply_ordered(ordered, ProducingSync(self.env), budget_ms)
            except DeferredSyncFailed as failure:
                if isinstance(failure.error, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    raise failure.error from failure  # see _apply_ordered: the whole call is retried
                _logger.warning(
                    "shopfloor_bridge: %s; applying the batch of %s events one by one", failure, len(ordered)
                )
        return self._apply_ordered(ordered, None, budget_ms)

    def _apply_ordered(self, ordered, producing_sync, budget_ms):
        """The apply loop of ``_apply_events``; ``producing_sync`` None applies every event completely."""
        from ..handlers import apply_event  # noqa: PLC0415 (handlers import models at load time)
        from ..handlers.resolve import HOLDS_ACTIVE  # noqa: PLC0415

        now = fields.Datetime.now()
        deadline = monotonic() + budget_ms / 1000.0
        outcomes = ApplyOutcomes()
        logs = []
        lookups = {}
        for index, event in enumerate(ordered):
            if index and monotonic() >= deadline:
                ordered[index:]._defer(outcomes, self._deferred_message(budget_ms))
                break
            if producing_sync is not None:
                producing_sync.before(event)
            if not event.connection_id and event.connection_code:
                # The connection may have been created since the event arrived.
                event.connection_id = self.env["shopfloor.connection"].search(
                    [("code", "=", event.connection_code), ("company_id", "=", event.company_id.id)], limit=1
                )
            revision = event.connection_id.revision
            attempts = event.attempts + 1
            try:
                if not event.connection_id:
                    raise PermanentError(
                        _(
                            "Unknown connection %(code)r for company %(company)s: create it under Shop Floor → "
                            "Configuration → Connections (or fix the sidecar's SHOPFLOOR_CONNECTION), then retry.",
                            code=event.connection_code or "",
                            company=event.company_id.name,
                        )
                    )
                with self.env.cr.savepoint():
                    records = apply_event(
                        event.with_company(event.company_id), producing_sync=producing_sync, lookups=lookups
                    )
            except EventRejected as error:
                values, action = self._failure_values(event, error, "rejected"), "reject"
            except EventPending as error:
                values, action = self._pending_values(event, error, attempts, now)
            except PermanentError as error:
                values, action = self._failure_values(event, error, "dead"), "dead"
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                # Another transaction books the same rows (a stock quant): Odoo re-runs the
                # whole call on a fresh snapshot (the RPC's retry, else the cron's next run).
                # Failing this event instead would let later events of its order overtake it.
                raise
            except Exception as error:  # noqa: BLE001 (any other error is transient: retried, then dead)
                values, action = self._transient_failure_values(event, error, attempts, now)
            else:
                values, action = self._applied_values(event, records, revision, now), "apply"
            if producing_sync is not None and values["state"] != "applied":
                producing_sync.event_failed()
            if (event.type or "").startswith("quality."):
                lookups.pop(HOLDS_ACTIVE, None)  # it may have raised or released a hold
            values["attempts"] = attempts
            event.write(values)
            status = values["state"] if values["state"] != "dead" else "failed"
            outcomes[event.id] = (status, values.get("error_message") or "")
            logs.append(
                {
                    "event_id": event.id,
                    "action": action,
                    "state": values["state"],
                    "note": values.get("error_message") or "",
                }
            )
        if producing_sync is not None:
            producing_sync.flush()
        if logs:
            self.env["shopfloor.event.log"].create(logs)
        return outcomes

    def _transient_failure_values(self, event, error, attempts, now):
        """An unexpected error: retried with backoff until the connection's max_attempts, then dead."""
        max_attempts = event.connection_id.max_attempts or 5
        if attempts >= max_attempts:
            values = self._failure_values(event, error, "dead")
            values["error_message"] = _(
                "Gave up after %(n)s attempts. Last error: %(error)s", n=attempts, error=values["error_message"]
            )
            return values, "dead"
        values = self._failure_values(event, error, "failed")
        values["next_retry_at"] = backoff.next_retry_at(now, attempts)
        return values, "fail"

    def _defer(self, outcomes, message):
        """Left for later: these events stay as they are, due now; the ones never
        tried say why they still wait (a waiting or failed event keeps its reason)."""
        if not self:
            return
        self.filtered(lambda event: event.state == "pending" and not event.attempts).write(
            {"error_class": "deferred", "error_message": message, "next_retry_at": fields.Datetime.now()}
        )
        for event in self:
            outcomes[event.id] = ("pending", message)
        outcomes.deferred.update(self.ids)
        self._trigger_retry_cron()

    def _applied_values(self, event, records, revision, now):
        records = [r for r in (records or []) if r]
        refs = []
        production = event.production_id
        workorder = event.workorder_id
        for record in records:
            for one in record:
                refs.append(f"{one._name},{one.id}")
                if one._name == "mrp.workorder" and not workorder:
                    workorder = one
                if one._name == "mrp.production" and not production:
                    production = one
                if not workorder and "workorder_id" in one._fields and one.workorder_id:
                    workorder = one.workorder_id
                if not production and "production_id" in one._fields and one.production_id:
                    production = one.production_id
        if workorder and not production:
            production = workorder.production_id
        return {
            "state": "applied",
            "applied_time": now,
            "result_refs": "\n".join(refs),
            "mapping_revision": revision,
            "production_id": production.id or False,
            "workorder_id": workorder.id or False,
            "error_class": False,
            "error_message": False,
            "error_traceback": False,
            "next_retry_at": False,
            "pending_since": False,
        }

    @staticmethod
    def _failure_values(event, error, state):
        return {
            "state": state,
            "error_class": getattr(error, "error_class", None) or type(error).__name__,
            "error_message": getattr(error, "message", None) or str(error) or type(error).__name__,
            "error_traceback": "".join(traceback.format_exception(error)),
            "next_retry_at": False,
        }

    def _pending_values(self, event, error, attempts, now):
        """Waiting for a prerequisite: retried soon, until the connection's bound passes."""
        since = event.pending_since or now
        timeout = timedelta(minutes=event.connection_id.pending_timeout_minutes or 60)
        if now - since > timeout:
            # Past the bound: visible as failed; still waiting on the next try → dead.
            state = "dead" if event.state == "failed" else "failed"
            values = self._failure_values(event, error, state)
            values["error_message"] = _(
                "Still waiting after %(minutes)s minutes: %(error)s",
                minutes=int((now - since).total_seconds() // 60),
                error=values["error_message"],
            )
            if state == "failed":
                values["next_retry_at"] = backoff.next_retry_at(now, attempts, cap=PENDING_BACKOFF_CAP_SECONDS)
            return values, ("dead" if state == "dead" else "fail")
        values = self._failure_values(event, error, "pending")
        values["pending_since"] = since
        values["next_retry_at"] = backoff.next_retry_at(now, attempts, cap=PENDING_BACKOFF_CAP_SECONDS)
        return values, "pending"

    # ------------------------------------------------------------------ cron

    @api.model
    def _cron_retry(self, limit=1000):
        """Applies waiting events whose retry time has come, oldest first per work center.

        Within the apply budget: what it leaves is reported to the cron, which
        runs again at once (``ir.cron._notify_progress``). Returns how many were tried."""

        def due_domain():
            return [("state", "in", RETRYABLE_STATES), ("next_retry_at", "<=", fields.Datetime.now())]

        due = self.sudo().search(due_domain(), order="time, id", limit=limit)
        outcomes = due._apply_events()
        if any(status == "failed" for status, _error in outcomes.values()):
            self.sudo()._notify_dlq_growth(due.connection_id)
        done = len(outcomes) - len(outcomes.deferred)
        self.env["ir.cron"]._notify_progress(done=done, remaining=self.sudo().search_count(due_domain()))
        return done

    @api.model
    def _cron_purge_applied(self):
        """Retention: applied events older than the configured days go; the DLQ never does."""
        days = int(
            self.env["ir.config_parameter"].sudo().get_param("shopfloor_bridge.retention_days", DEFAULT_RETENTION_DAYS)
        )
        if days <= 0:
            return 0
        cutoff = fields.Datetime.now() - timedelta(days=days)
        old = self.sudo().search([("state", "=", "applied"), ("applied_time", "<", cutoff)])
        count = len(old)
        keys = self.env["shopfloor.event.key"]
        keys._keep_keys_of(old)
        old.unlink()
        key_days = max(
            days, int(self.env["ir.config_parameter"].sudo().get_param(KEY_RETENTION_PARAM, DEFAULT_KEY_RETENTION_DAYS))
        )
        keys._forget_before(fields.Datetime.now() - timedelta(days=key_days))
        if count:
            _logger.info("shopfloor_bridge: purged %s applied events older than %s days", count, days)
        return count

    # ------------------------------------------------------------------ DLQ

    def _notify_dlq_growth(self, connections):
        """An activity for a manager when a connection's dead letters pass its threshold."""
        activity_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        managers = self.env.ref(MANAGER_GROUP).users.filtered(lambda u: not u.share and u.active)
        for connection in connections.filtered("dlq_threshold"):
            dead = self.search_count([("connection_id", "=", connection.id), ("state", "in", ("dead", "rejected"))])
            if dead <= connection.dlq_threshold:
                continue
            summary = _("Dead letters over threshold")
            open_activity = connection.activity_ids.filtered(lambda a, s=summary: a.summary == s)
            if open_activity or not activity_type:
                continue
            assignee = (
                managers.filtered(lambda u, c=connection: c.company_id in u.company_ids and u.id != 1)[:1]
                or managers[:1]
            )
            if not assignee:
                continue
            connection.activity_schedule(
                activity_type_id=activity_type.id,
                summary=summary,
                note=_(
                    "%(count)s dead or rejected events on %(code)s (threshold %(threshold)s). "
                    "Review them under Shop Floor → Dead letters.",
                    count=dead,
                    code=connection.code,
                    threshold=connection.dlq_threshold,
                ),
                user_id=assignee.id,
            )

    def _log(self, action, note=""):
        self.env["shopfloor.event.log"].sudo().create(
            [
                {"event_id": e.id, "action": action, "state": e.state, "note": note, "user_id": self.env.uid}
                for e in self
            ]
        )

    def _requeue(self):
        self.write({"state": "pending", "attempts": 0, "pending_since": False, "next_retry_at": fields.Datetime.now()})

    def action_retry(self):
        """Retries dead-letter events now; the outcome is on each event."""
        self._check_manager()
        events = self.filtered(lambda e: e.state in DLQ_STATES + ("pending",))
        not_retryable = events.filtered(lambda e: e.state == "rejected" and not e.type)
        if not_retryable:
            raise UserError(
                _(
                    "Events %s were rejected before their type was known: edit them first.",
                    ", ".join(not_retryable.mapped("event_uid")),
                )
            )
        events.sudo()._log("retry")
        events.sudo()._requeue()
        events.sudo()._apply_events()
        return True

    def action_discard(self, reason):
        """Closes events nobody should apply, with the reason written down."""
        self._check_manager()
        if not isinstance(reason, str) or not reason.strip():
            raise UserError(_("Discarding needs a reason."))
        events = self.filtered(lambda e: e.state != "applied")
        applied = self - events
        if applied:
            raise UserError(_("Applied events cannot be discarded: %s", ", ".join(applied.mapped("event_uid"))))
        events.sudo()._log("discard", reason.strip())
        events.sudo().write({"state": "discarded", "discard_reason": reason.strip(), "next_retry_at": False})
        return True

    def action_edit_and_retry(self, data_json):
        """Replaces the data (the received payload stays in raw_payload and
        original_data_json) and retries. ``data_json`` is the data object, or a
        whole CloudEvent to fix envelope attributes too (type, time…)."""
        self._check_manager()
        self.ensure_one()
        if self.state == "applied":
            raise UserError(_("Event %s is already applied; it cannot be edited.", self.event_uid))
        try:
            edited = json.loads(data_json) if isinstance(data_json, str) else data_json
        except ValueError as error:
            raise UserError(_("The edited payload is not valid JSON: %s", error)) from error
        if not isinstance(edited, dict):
            raise UserError(_("The edited payload must be a JSON object."))
        event = self._as_cloudevent()
        if "specversion" in edited:
            event.update({k: v for k, v in edited.items() if k not in ("id", "source")})
        else:
            event["data"] = edited
        try:
            time, observed = validate_event(event)
        except EventRejected as error:
            raise UserError(_("The edited event is still invalid: %s", error.message)) from error
        sudo = self.sudo()
        values = {
            "data_json": json.dumps(event.get("data", {}), ensure_ascii=False),
            "type": event["type"],
            "time": time,
            "subject": event.get("subject") or False,
        }
        if not sudo.original_data_json:
            values["original_data_json"] = sudo.data_json or sudo.raw_payload or ""
        if not sudo.workcenter_id:
            resolver = _IngestContext(self.env)
            values["workcenter_id"] = resolver.workcenter_for(sudo.connection_id, event) or False
        sudo._log("edit", values["data_json"])
        sudo.write(values)
        sudo._requeue()
        sudo._apply_events()
        return True

    @api.model
    def dlq_bulk(self, domain, action, reason=""):
        """Retry or discard every dead letter matching ``domain``; returns how many."""
        self._check_manager()
        if action not in ("retry", "discard"):
            raise UserError(_("Bulk action must be 'retry' or 'discard', got %r.", action))
        events = self.search(list(domain or []) + [("state", "in", DLQ_STATES)])
        if action == "retry":
            events.filtered("type").action_retry()
        else:
            events.action_discard(reason)
        return len(events)


class _IngestContext:
    """Per-call lookups for ingest: connections and work centers read once per batch."""

    def __init__(self, env, allowed=None):
        self.env = env
        self.now = fields.Datetime.now()
        self._connections = {}
        self._source_maps = {}
        self._workcenters = {}
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
        refused = self.refusal(code, connection)
        owner = self.home if refused else connection
        columns.update(
            {
                "connection_id": owner.id or None,
                "key_scope": owner.id or 0,
                "company_id": (owner.company_id or self.env.company).id,
            }
        )
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
            time, observed = validate_event(item, serialized)
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
            unsafe = unsafe_integers(item)
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
