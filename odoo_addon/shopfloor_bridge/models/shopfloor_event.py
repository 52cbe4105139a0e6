"""The inbox: every event the floor sent, what became of it, and the DLQ actions.

Storage and the RPC surface live here; the work is done by the services beside
the model, as queue_job keeps ``job.py`` apart from ``models/queue_job.py``:
``services/ingest.py`` validates and stores a batch, ``services/apply.py``
applies stored events, ``services/hooks`` lists what ingest, apply and discard
do besides (``_post_ingest_hooks`` / ``_post_apply_hooks`` /
``_post_discard_hooks``). Queue semantics live outside too: ``exceptions.py``
decides retry vs dead-letter, ``backoff.py`` the delays,
``event_validation.py`` what is valid, ``handlers/`` the effects.
"""

import base64
import binascii
import json
import logging
from datetime import timedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from ..alerting import DLQ_KINDS
from ..event_validation import MAX_INGEST_BATCH, validate_event
from ..exceptions import EventRejected
from ..field_guard import refuse_protected_write
from ..services import hooks
from ..services.apply import ApplyService
from ..services.ingest import IngestContext, IngestService
from ..services.reverse import ReverseService
from ..storable_text import escape_deep
from ..topic_filter import topic_matches
from .shopfloor_connection import MANAGER_GROUP, check_rpc_caller, iso_utc
from .shopfloor_payload_map import origin_transport

_logger = logging.getLogger(__name__)

DLQ_STATES = ("failed", "dead", "rejected")
RETRYABLE_STATES = ("pending", "failed")
DEFAULT_RETENTION_DAYS = 90
# The idempotency keys of purged events answer `duplicate` this long after
# the event was applied (never shorter than the events' own retention).
KEY_RETENTION_PARAM = "shopfloor_bridge.key_retention_days"
DEFAULT_KEY_RETENTION_DAYS = 730

# Every field of an event is written by ingest, apply and the DLQ actions
# (sudo, logged in its history); a plain write or create is refused.
AUDITED_ACTIONS = {
    "state": "Retry / Discard",
    "data_json": "Edit and retry",
    "type": "Edit and retry",
    "time": "Edit and retry",
    "discard_reason": "Discard",
    "undo_json": "Reverse",
}


# Index name → None (dropped) or what its definition must hold to be kept.
SUPERSEDED_INDEXES = {
    "shopfloor_event__workcenter_id_index": None,
    "shopfloor_event__error_class_index": "WHERE (error_class IS NOT NULL)",
}


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
    # Found by shopfloor_event_wc_time_idx (workcenter_id, time), which leads with it (see init).
    workcenter_id = fields.Many2one("mrp.workcenter", readonly=True)
    production_id = fields.Many2one("mrp.production", readonly=True, index="btree_not_null")
    workorder_id = fields.Many2one("mrp.workorder", readonly=True, index="btree_not_null")
    sidecar_mapping_revision = fields.Integer(readonly=True, help="The mapping revision the sidecar used.")
    mapping_revision = fields.Integer(readonly=True, help="The connection's revision the event was applied under.")
    # Set when apply writes mapping_revision: one lookup per flushed batch (change control).
    mapping_revision_id = fields.Many2one(
        "shopfloor.mapping.revision",
        string="Applied under",
        compute="_compute_mapping_revision_id",
        store=True,
        index="btree_not_null",
        help="The recorded mapping configuration in force when the event was applied.",
    )
    mapping_revision_html = fields.Html(string="Mapping applied under", related="mapping_revision_id.snapshot_html")

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
            ("reversed", "Reversed"),
        ],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_retry_at = fields.Datetime(readonly=True)
    pending_since = fields.Datetime(readonly=True)
    # Empty on every applied event: the index holds only the events that wait or failed.
    error_class = fields.Char(readonly=True, index="btree_not_null")
    error_message = fields.Text(readonly=True)
    error_traceback = fields.Text(readonly=True)
    result_refs = fields.Text(string="Produced records", readonly=True, help="One model,id per line.")
    undo_json = fields.Text(
        string="Undo record (JSON)",
        readonly=True,
        help="What the apply changed that the produced records cannot tell (previous states, dates, "
        "quantities): read by Reverse (services/reverse.py).",
    )
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
        self._drop_superseded_indexes()

    def _drop_superseded_indexes(self):
        """Indexes earlier versions made, which every event wrote at its insert and again at
        its outcome (an UPDATE of indexed columns writes a new entry in every index): one by
        work center alone, which the (workcenter_id, time) index serves, and one over the
        error class of every event, where only waiting and failed events have one. Odoo keeps
        an index its fields no longer ask for, and does not change one that exists under the
        name it would give: dropped here (init runs before Odoo makes the fields' indexes,
        so the partial one on error_class is made next)."""
        self.env.cr.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname IN %s",
            [self._table, tuple(SUPERSEDED_INDEXES)],
        )
        for name, definition in self.env.cr.fetchall():
            if SUPERSEDED_INDEXES[name] is None or SUPERSEDED_INDEXES[name] not in definition:
                self.env.cr.execute(tools.SQL("DROP INDEX %s", tools.SQL.identifier(name)))

    @api.depends("mapping_revision", "connection_id")
    def _compute_mapping_revision_id(self):
        self.env["shopfloor.mapping.revision"]._link_events(self)

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

    @api.model
    def _write_rows(self, rows):
        """Writes ``rows`` (``(event, values)``, values as ``write`` takes them, one dict per
        event) in one UPDATE per set of written fields: what ``write`` per event leaves
        in the database and the cache, without its per-record work. Apply writes
        every event's outcome this way (the profiler, ``tests/test_apply_profile.py``,
        shows what ``write`` per event and its flush cost). Only plain stored fields;
        the same guard as ``write`` (``TestEventOutcomeRows``). A row writing
        ``mapping_revision`` writes the ``mapping_revision_id`` it computes in the same
        UPDATE, not in a second one of every row when the compute runs."""
        rows = [(event, values) for event, values in rows if values]
        if not rows:
            return
        events = self.browse([event.id for event, _values in rows])
        names = list(dict.fromkeys(name for _event, values in rows for name in values))
        refuse_protected_write(events, dict.fromkeys(names), self._guarded_fields())
        fields_ = {name: self._fields[name] for name in names}
        unfit = [
            name
            for name, field in fields_.items()
            if not field.store or field.compute or field.type in ("one2many", "many2many") or field.translate
        ]
        if unfit or len(set(events.ids)) != len(events):
            raise ValueError(f"shopfloor.event._write_rows writes plain stored fields of distinct events, not {unfit}")
        revision_link = self._fields["mapping_revision_id"]
        linked = self._link_in_rows(rows) if "mapping_revision" in names else self.browse()
        if linked:
            names.append(revision_link.name)
            fields_[revision_link.name] = revision_link
            # Written below with the rows: a recompute still to come would only write it again.
            self.env.remove_to_compute(revision_link, linked)
        relational = [name for name, field in fields_.items() if self.pool.is_modifying_relations(field)]
        # Pending changes of these fields go first, or a later flush would overwrite the rows.
        events.flush_recordset(names)
        events.modified(relational, before=True)
        events._write_multi(
            [
                {
                    name: fields_[name].convert_to_column_update(fields_[name].convert_to_cache(value, event), event)
                    for name, value in values.items()
                }
                for event, values in rows
            ]
        )
        events.invalidate_recordset([*names, "write_uid", "write_date"])
        for field in fields_.values():
            for inverse in self.pool.field_inverses[field]:
                self.env[inverse.model_name].invalidate_model([inverse.name])
        # The link was written with the revision it follows from: not computed again.
        with self.env.protecting([revision_link], linked):
            events.modified(names)

    def _link_in_rows(self, rows):
        """Adds ``mapping_revision_id`` to the values of ``rows`` that write ``mapping_revision``, as
        ``_compute_mapping_revision_id`` would set it (one query for all), so the outcome's UPDATE
        writes it instead of a recompute updating every row a second time; returns those events."""
        keyed = [
            (event, values, (values.get("connection_id", event.connection_id.id), values["mapping_revision"]))
            for event, values in rows
            if "mapping_revision" in values
        ]
        found = self.env["shopfloor.mapping.revision"]._newest_by_key({key for _event, _values, key in keyed})
        for _event, values, key in keyed:
            values["mapping_revision_id"] = found[key].id if key in found else False
        return self.browse([event.id for event, _values, _key in keyed])

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
        """Stores a batch of CloudEvents idempotently, then applies the new ones
        (``services/ingest.py``; the apply runs ``_post_apply_hooks``), then runs
        ``_post_ingest_hooks``.

        Returns one ``{id, source, status, event_id, error}`` per item, in order.
        With ``shopfloor_defer_apply`` in the context the events are only stored
        (``pending``, due now) and the retry cron applies them: a plant that
        bursts faster than Odoo applies can keep its ingest calls short.
        """
        return self._ingest_for(check_rpc_caller(self.env), events)

    def _ingest_for(self, allowed, events):
        """``ingest`` for a caller acting for the connections ``allowed`` (None: any)."""
        results = IngestService(self.env, allowed).ingest(events)
        if results:
            stored = self.sudo().browse([result["event_id"] for result in results if result["event_id"]])
            outcomes = {result["event_id"]: (result["status"], result["error"]) for result in results}
            hooks.run(self._post_ingest_hooks(), stored, outcomes)
        return results

    # ------------------------------------------------------------------ apply

    def _apply_events(self):
        """Applies these events (``services/apply.py``: per work center in time
        order, each as if alone, within the call's apply budget), then runs
        ``_post_apply_hooks``. Returns ``ApplyOutcomes`` ({event_id: (status, error)})."""
        outcomes = ApplyService(self.env).apply(self)
        if outcomes:
            hooks.run(self._post_apply_hooks(), self, outcomes)
        return outcomes

    def _trigger_retry_cron(self):
        if self.env.context.get("cron_id"):
            return  # the cron itself: it reports its progress and runs again
        cron = self.env.ref("shopfloor_bridge.shopfloor_event_cron_retry", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    # ------------------------------------------------------------------ hooks

    def _post_ingest_hooks(self):
        """What ``ingest`` does after storing (and applying) a batch, in order:
        ``hook(events, outcomes)`` functions, see ``services/hooks``. Another
        addon adds its own by extending this method
        (``return super()._post_ingest_hooks() + [my_hook]``)."""
        return list(hooks.POST_INGEST)

    def _post_apply_hooks(self):
        """What ``_apply_events`` does after a batch was applied (for ingest, the
        retry cron and the DLQ actions), in order. Extend it as ``_post_ingest_hooks``."""
        return list(hooks.POST_APPLY)

    def _post_discard_hooks(self):
        """What ``action_discard`` does after events were discarded, in order. Extend it as ``_post_ingest_hooks``."""
        return list(hooks.POST_DISCARD)

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
        """The dead-letter alert rules of ``connections`` (``shopfloor.alert.rule``) checked now."""
        self.env["shopfloor.alert.rule"].sudo()._evaluate_connections(connections, kinds=DLQ_KINDS)

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
        hooks.run(self._post_discard_hooks(), events.sudo(), dict.fromkeys(events.ids, ("discarded", reason.strip())))
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
            resolver = IngestContext(self.env)
            values["workcenter_id"] = resolver.workcenter_for(sudo.connection_id, event) or False
        sudo._log("edit", values["data_json"])
        sudo.write(values)
        sudo._requeue()
        sudo._apply_events()
        return True

    # ------------------------------------------------------------------ reverse

    def action_reverse(self, reason, reapply=False):
        """Undoes these applied events' effects, newest first (``services/reverse.py``),
        and leaves them ``reversed``; with ``reapply`` they then go through the normal
        apply path again, under the current mappings. All or nothing: a refusal names
        the event and says what to do instead."""
        self._check_manager()
        reason = self._reversal_reason(reason)
        self.check_access("read")
        ReverseService(self.env).reverse(self.sudo(), reason)
        if reapply:
            self.sudo()._reapply(reason)
        return True

    def action_reapply(self, reason):
        """Applies reversed events again, under the current mappings."""
        self._check_manager()
        reason = self._reversal_reason(reason)
        self.check_access("read")
        not_reversed = self.filtered(lambda e: e.state != "reversed")
        if not_reversed:
            raise UserError(
                _(
                    "Only reversed events can be re-applied: %s. Reverse them first.",
                    ", ".join(not_reversed.mapped("event_uid")),
                )
            )
        self.sudo()._reapply(reason)
        return True

    def action_open_reverse_wizard(self):
        """The Reverse wizard for these events (the list's selection, the explorer's picks)."""
        self._check_manager()
        self.check_access("read")
        return self.env["shopfloor.event.reverse"]._open_for(self)

    @staticmethod
    def _reversal_reason(reason):
        if not isinstance(reason, str) or not reason.strip():
            raise UserError(_("Reversing or re-applying an event needs a reason."))
        return reason.strip()

    def _reapply(self, reason):
        """Back through the normal apply path: the work center from the current source map,
        the order and work order resolved again."""
        resolver = IngestContext(self.env)
        for event in self.sorted(lambda e: (e.time, e.id)):
            workcenter = resolver.workcenter_for(event.connection_id, event._as_cloudevent()) or False
            event._log("reapply", reason)
            event.write({"workcenter_id": workcenter, "production_id": False, "workorder_id": False})
        self._requeue()
        return self._apply_events()

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

    # ------------------------------------------------------------------ payload mappings

    def action_create_payload_map(self):
        """A new payload mapping for this rejected payload: the form, prefilled with
        its connection, transport, origin (as the match) and the payload as the sample."""
        self._check_manager()
        self.ensure_one()
        self.check_access("read")
        event = self.sudo()
        if event.state != "rejected" or not event.raw_b64 or event.type:
            raise UserError(
                _(
                    "Event %s is not a rejected payload the sidecar could not read as an event: only those can "
                    "start a payload mapping.",
                    event.event_uid,
                )
            )
        if not event.connection_id:
            raise UserError(_("Event %s belongs to no connection: a payload mapping needs one.", event.event_uid))
        try:
            raw = base64.b64decode(event.raw_b64, validate=True)
        except (binascii.Error, ValueError) as error:
            raise UserError(_("The raw bytes of event %s are not valid base64.", event.event_uid)) from error
        text = raw.decode("utf-8", "replace")
        try:
            json.loads(text)
            payload_format = "json"
        except ValueError:
            payload_format = "text"
        transport = origin_transport(event.connection_id, event.source)
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_payload_map_action")
        action.update(
            {
                "views": [(False, "form")],
                "view_mode": "form",
                "target": "current",
                "res_id": False,
                "context": {
                    "default_connection_id": event.connection_id.id,
                    "default_transport": transport,
                    "default_match": event.source,
                    "default_sample_payload": text,
                    "default_payload_format": payload_format,
                    "default_name": _("Payloads of %s", event.source)[:128],
                },
            }
        )
        return action

    @api.model
    def remap_rejected(self, mapping_id, results):
        """Ingests what a payload mapping made of rejected payloads, and closes them.

        ``results``: ``[{event_id, events: [CloudEvent dicts]}]``, what the
        browser computed with the saved mapping ``mapping_id`` for each rejected
        event. Each produced event is checked with the module's schema, stamped
        with the connection and its current revision, and ingested as the
        sidecar's would be (idempotent by (source, id)); the rejected event is
        then discarded with a reason naming the mapping, its revision and the
        events it became. One item's invalid event leaves that item unchanged.

        Trust: the events come from the browser, not from the sidecar; this is
        as trusted as edit-and-retry (a manager could write the same events by
        hand), and is for managers only. Returns one ``{event_id, status,
        error, event_ids}`` per item, in order; status is ``remapped``,
        ``invalid`` (nothing changed) or ``skipped`` (not a rejected payload of
        the mapping's connection).
        """
        self._check_manager()
        mapping = self.env["shopfloor.payload.map"].browse(mapping_id if isinstance(mapping_id, int) else 0).exists()
        if not mapping:
            raise UserError(_("No payload mapping with id %r.", mapping_id))
        mapping.check_access("read")
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            raise UserError(_("remap_rejected takes a list of {event_id, events} objects."))
        total = sum(len(item.get("events") or []) for item in results if isinstance(item.get("events"), list))
        if len(results) > MAX_INGEST_BATCH or total > MAX_INGEST_BATCH:
            raise UserError(
                _(
                    "remap_rejected takes at most %(max)s payloads and %(max)s events per call: split it.",
                    max=MAX_INGEST_BATCH,
                )
            )
        connection = mapping.connection_id.sudo()
        if not connection.active or not mapping.active:
            raise UserError(
                _(
                    "Mapping %(name)s or its connection %(code)s is archived: the sidecar does not use it, so "
                    "nothing is re-mapped with it.",
                    name=mapping.name,
                    code=connection.code,
                )
            )
        revision = connection.revision
        answers = []
        for item in results:
            answers.append(self._remap_one(mapping, connection, revision, item))
        return answers

    def _remap_one(self, mapping, connection, revision, item):
        event_id = item.get("event_id")
        answer = {
            "event_id": event_id if isinstance(event_id, int) else 0,
            "status": "skipped",
            "error": "",
            "event_ids": [],
        }
        rejected = (
            self.sudo().browse(event_id if isinstance(event_id, int) and not isinstance(event_id, bool) else 0).exists()
        )
        if not rejected or rejected.connection_id != connection or rejected.state != "rejected" or rejected.type:
            answer["error"] = _(
                "Event %(id)s is not a rejected payload of connection %(code)s (it may have been re-mapped "
                "already).",
                id=event_id,
                code=connection.code,
            )
            return answer
        if not topic_matches(mapping.match, rejected.source) or (
            origin_transport(connection, rejected.source) != mapping.transport
        ):
            answer["error"] = _(
                "Mapping %(name)s (%(transport)s %(match)s) does not take payloads from %(origin)s.",
                name=mapping.name,
                transport=mapping.transport,
                match=mapping.match,
                origin=rejected.source,
            )
            return answer
        produced = item.get("events")
        if not isinstance(produced, list):
            answer.update(status="invalid", error=_("'events' must be a list of CloudEvents."))
            return answer
        stamped = []
        for index, candidate in enumerate(produced):
            if not isinstance(candidate, dict):
                answer.update(status="invalid", error=_("Event %s of the list is not a JSON object.", index + 1))
                return answer
            event = dict(candidate, connection=connection.code, mappingrev=revision)
            try:
                validate_event(event)
            except EventRejected as error:
                answer.update(
                    status="invalid",
                    error=_(
                        "Event %(index)s (%(id)s) is invalid: %(reason)s",
                        index=index + 1,
                        id=candidate.get("id"),
                        reason=error.message,
                    ),
                )
                return answer
            stamped.append(event)
        outcomes = self.sudo()._ingest_for(connection, stamped) if stamped else []
        refused = [outcome for outcome in outcomes if outcome["status"] == "rejected"]
        made = self.sudo().browse([outcome["event_id"] for outcome in outcomes if outcome["event_id"]])
        answer["event_ids"] = made.ids
        if refused:
            answer.update(
                status="invalid",
                error=_(
                    "Odoo rejected %(count)s of the events: %(reason)s", count=len(refused), reason=refused[0]["error"]
                ),
            )
            return answer
        uids = ", ".join(made.mapped("event_uid")) or _("no events (the mapping consumes this payload)")
        reason = _(
            "re-mapped by mapping %(name)s rev %(revision)s into %(ids)s",
            name=mapping.name,
            revision=revision,
            ids=uids,
        )
        made._log(
            "remapped_from",
            _(
                "from rejected payload %(uid)s of %(origin)s by mapping %(name)s",
                uid=rejected.event_uid,
                origin=rejected.source,
                name=mapping.name,
            ),
        )
        rejected._log("remap", reason)
        rejected.write({"state": "discarded", "discard_reason": reason, "next_retry_at": False})
        hooks.run(self._post_discard_hooks(), rejected, {rejected.id: ("discarded", reason)})
        answer["status"] = "remapped"
        return answer
