"""Payload mappings: how a payload that is not a CloudEvent becomes events.

The sidecar evaluates the JSONata ``expression`` (``sidecar/src/mapping``) and
the mapping form's "try it" panel evaluates it in the browser with the same
code; Odoo stores, checks and delivers the mapping (``PayloadMapping`` of
``sidecar/src/core/contract.ts``). It cannot evaluate JSONata itself: for the
dead-letter queue it picks the rejected payloads a mapping matches
(``rejected_candidates``), checks what the browser made of them with the
module's own schema (``check_events``) and ingests them
(``shopfloor.event.remap_rejected``).
"""

import base64
import binascii

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .. import backbone
from ..event_validation import MAX_INGEST_BATCH, validate_event
from ..exceptions import EventRejected
from ..topic_filter import id_fields_error, pattern_error, split_id_fields, topic_matches
from .shopfloor_connection import MANAGER_GROUP, iso_utc

KINDS = [("events", "Events (JSON to CloudEvents)"), ("values", "Values (to tag rules)")]
TRANSPORTS = [
    ("mqtt", "MQTT topic"),
    ("http", "HTTP route"),
    ("amqp", "RabbitMQ queue"),
    ("kafka", "Kafka topic"),
    ("redis", "Redis stream"),
    ("file", "CSV file row (drop folder)"),
    ("sql", "SQL row (polled query)"),
]
# The transport each historian connection kind feeds (issue 19).
HISTORIAN_TRANSPORTS = {"folder": "file", "sql": "sql"}
PAYLOAD_FORMATS = [("json", "JSON"), ("text", "Text (a bare value)")]
MAX_EXPRESSION_CHARS = 65536
DEFAULT_CANDIDATES = 20


def origin_transport(connection, origin):
    """The transport of ``connection`` a rejected input named ``origin`` came in on.

    A rejected input stores only its origin (an MQTT topic, an HTTP route, or
    the queue, topic or stream of a message-queue connection). A message-queue
    connection takes its input from its broker, so an origin is its kind unless
    the connection also has an HTTP intake and the origin is none of the names
    it consumes nor matched by its mappings of that kind. A historian connection
    (drop folder, SQL query) likewise: its rows are its transport (file, sql)
    unless it has an HTTP intake and none of its mappings of that transport
    matches the origin. Otherwise an origin
    the sidecar subscribes to (the connection's topic filters and its MQTT
    mappings' filters) is MQTT; else HTTP when the connection has an HTTP
    intake; else MQTT."""
    connection = connection.sudo()
    kind = connection.kind
    if kind in HISTORIAN_TRANSPORTS:
        # A drop folder's file rows, a query's rows; beside an HTTP intake, what their mappings match.
        transport = HISTORIAN_TRANSPORTS[kind]
        if not connection.http_enabled:
            return transport
        filters = connection.payload_map_ids.filtered(lambda mapping: mapping.transport == transport).mapped("match")
        if any(topic_matches(pattern, origin) for pattern in filters if not pattern_error(transport, pattern)):
            return transport
        return "http"
    if kind in backbone.BACKBONE_KINDS:
        if not connection.http_enabled or origin in backbone.split_names(connection.backbone_names):
            return kind
        filters = connection.payload_map_ids.filtered(lambda mapping: mapping.transport == kind).mapped("match")
        if any(topic_matches(pattern, origin) for pattern in filters if not pattern_error(kind, pattern)):
            return kind
        return "http"
    filters = connection._mqtt_subscriptions()
    if any(topic_matches(pattern, origin) for pattern in filters if not pattern_error("mqtt", pattern)):
        return "mqtt"
    return "http" if connection.http_enabled else "mqtt"


class ShopfloorPayloadMap(models.Model):
    _name = "shopfloor.payload.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Payload mapping"
    _order = "connection_id, sequence, id"
    # The try-it panel saves its sample: the sidecar has nothing to reload for it.
    _mapping_inert_fields = ("sample_payload",)

    name = fields.Char(required=True, help="Shown in the reasons of the payloads it rejects and in logs.")
    sequence = fields.Integer(default=10, help="Mappings are tried in this order; the first that matches takes it.")
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        KINDS,
        required=True,
        default="events",
        help="Events: the expression yields one CloudEvent-shaped object or a list of them (none: the payload "
        "is consumed). Values: it yields {address, value, time?} objects fed to the tag rules of protocol "
        "'Mapped payload value', as OPC UA values are.",
    )
    transport = fields.Selection(TRANSPORTS, required=True, default="mqtt")
    match = fields.Char(
        required=True,
        help="MQTT: a topic filter ('+' one level, '#' the rest, e.g. plant1/+/press-01/#). HTTP: the route "
        "after /routes/ in the URL (the same wildcards, e.g. mes/completions). RabbitMQ, Kafka, Redis: the "
        "queue, topic or stream name, with the same wildcards over its '/'-separated levels ('#' takes every "
        "one the connection consumes). CSV file row: the file name ('#' takes every file of the drop folder). "
        "SQL row: query ('#' as well).",
    )
    expression = fields.Text(
        required=True,
        help="JSONata over the payload, with $topic (topic or route), $headers, $receivedAt and $connection.",
    )
    id_fields = fields.Text(
        string="Id fields",
        help="Events: dotted paths into each produced event (source, type, time, data.order…), one per line or "
        "comma-separated, whose values make its id when the expression gives none, so a resend is a "
        "duplicate. Empty: the payload's bytes and the event's position make it.",
    )
    payload_format = fields.Selection(
        PAYLOAD_FORMATS,
        required=True,
        default="json",
        help="JSON: the payload parsed as JSON. Text: the payload as a string (a bare UNS value such as 120).",
    )
    sample_payload = fields.Text(help="A payload to try the expression on (not sent to the sidecar).")
    preset_id = fields.Many2one(
        "shopfloor.payload.preset",
        string="Preset",
        ondelete="set null",
        help="Choosing a preset copies its expression and settings here (the match and sample only when empty).",
    )
    last_revision = fields.Integer(
        string="Revision",
        readonly=True,
        copy=False,
        help="The connection's mapping revision when this mapping last changed.",
    )

    @api.constrains("transport", "match")
    def _check_match(self):
        for mapping in self:
            error = pattern_error(mapping.transport, mapping.match or "")
            if error:
                raise ValidationError(
                    _(
                        "Payload mapping %(name)s: %(match)r: %(error)s.",
                        name=mapping.name,
                        match=mapping.match,
                        error=error,
                    )
                )

    @api.constrains("transport", "connection_id")
    def _check_transport(self):
        for mapping in self:
            kind = mapping.connection_id.kind
            wrong_historian = (
                mapping.transport in HISTORIAN_TRANSPORTS.values()
                and HISTORIAN_TRANSPORTS.get(kind) != mapping.transport
            )
            if (mapping.transport in backbone.BACKBONE_KINDS and mapping.transport != kind) or wrong_historian:
                raise ValidationError(
                    _(
                        "Payload mapping %(name)s: transport %(transport)s is for a connection of that kind; "
                        "connection %(code)s is %(kind)s, so the mapping would never see a payload.",
                        name=mapping.name,
                        transport=dict(self._fields["transport"]._description_selection(self.env))[mapping.transport],
                        code=mapping.connection_id.code,
                        kind=mapping.connection_id._kind_label(),
                    )
                )

    @api.constrains("expression")
    def _check_expression(self):
        for mapping in self:
            text = (mapping.expression or "").strip()
            if not text:
                raise ValidationError(_("Payload mapping %s needs an expression.", mapping.name))
            if len(text) > MAX_EXPRESSION_CHARS:
                raise ValidationError(
                    _(
                        "Payload mapping %(name)s: the expression is %(length)s characters, over %(max)s.",
                        name=mapping.name,
                        length=len(text),
                        max=MAX_EXPRESSION_CHARS,
                    )
                )

    @api.constrains("id_fields")
    def _check_id_fields(self):
        for mapping in self:
            error = id_fields_error(mapping.id_fields)
            if error:
                raise ValidationError(
                    _("Payload mapping %(name)s: id fields: %(error)s.", name=mapping.name, error=error)
                )

    @api.onchange("connection_id")
    def _onchange_connection_transport(self):
        # A message-queue connection takes its payloads from its broker: a new mapping is for that.
        kind = self.connection_id.kind
        if kind in backbone.BACKBONE_KINDS and self.transport in ("mqtt", False):
            self.transport = kind
        if kind in HISTORIAN_TRANSPORTS and self.transport in ("mqtt", False, *HISTORIAN_TRANSPORTS.values()):
            # A historian preset serves CSV rows and polled rows alike: the connection's kind decides.
            self.transport = HISTORIAN_TRANSPORTS[kind]

    @api.onchange("preset_id")
    def _onchange_preset_id(self):
        preset = self.preset_id
        if not preset:
            return
        self.update(preset._mapping_values())
        # A preset describes a payload's shape; on a message-queue connection it comes from the broker.
        self._onchange_connection_transport()
        if not self.name:
            self.name = preset.name
        if not self.match and preset.match:
            self.match = preset.match
        if not self.sample_payload and preset.sample_payload:
            self.sample_payload = preset.sample_payload

    def _mapping_label(self):
        return f"{self.name} ({self.transport} {self.match})"

    def _post_mapping_change(self, verb):
        result = super()._post_mapping_change(verb)
        self.flush_recordset()
        self.env.cr.execute(
            """UPDATE shopfloor_payload_map map SET last_revision = connection.revision
                 FROM shopfloor_connection connection
                WHERE connection.id = map.connection_id AND map.id = ANY(%s)""",
            [self.ids],
        )
        self.invalidate_recordset(["last_revision"])
        return result

    def _sidecar_payload_map(self):
        """This mapping as ``PayloadMapping`` (sidecar/src/core/contract.ts)."""
        self.ensure_one()
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "transport": self.transport,
            "match": self.match,
            "expression": self.expression,
            "id_fields": split_id_fields(self.id_fields),
            "payload_format": self.payload_format,
            "revision": self.last_revision,
        }

    # ------------------------------------------------------------------ DLQ

    def _check_manager(self):
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Shop Floor Bridge managers may work with payload mappings."))

    def _candidate_domain(self):
        return [
            ("connection_id", "=", self.connection_id.id),
            ("state", "=", "rejected"),
            ("raw_b64", "!=", False),
            ("raw_truncated", "=", False),
            # Input the sidecar could not read as an event: a type means it was a CloudEvent.
            ("type", "=", False),
        ]

    def rejected_candidates(self, limit=DEFAULT_CANDIDATES):
        """The rejected payloads of this mapping's connection that its transport and
        pattern match, newest first: ``[{event_id, origin, transport, raw_text,
        raw_b64, received, reason}]``. ``raw_b64`` holds the exact bytes (the
        event ids a mapping derives from them hash those bytes)."""
        self.ensure_one()
        self.check_access("read")
        self._check_manager()
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_INGEST_BATCH:
            raise UserError(_("The limit must be a whole number from 1 to %s.", MAX_INGEST_BATCH))
        events = self.env["shopfloor.event"].sudo()
        connection = self.connection_id.sudo()
        found = []
        offset = 0
        page = max(limit * 4, 100)
        while len(found) < limit:
            rows = events.search(self._candidate_domain(), order="id desc", limit=page, offset=offset)
            if not rows:
                break
            offset += page
            for row in rows:
                if not topic_matches(self.match, row.source):
                    continue
                if origin_transport(connection, row.source) != self.transport:
                    continue
                try:
                    # Bytes that are not UTF-8 text no mapping can read (the sidecar rejects them first).
                    text = base64.b64decode(row.raw_b64, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    continue
                found.append(
                    {
                        "event_id": row.id,
                        "origin": row.source,
                        "transport": self.transport,
                        "raw_text": text,
                        "raw_b64": row.raw_b64,
                        "received": iso_utc(row.observed_time or row.ingest_time),
                        "reason": row.error_message or "",
                    }
                )
                if len(found) == limit:
                    break
        return found

    @api.model
    def check_events(self, events):
        """Checks event dicts (what the try-it panel made) with the module's schema:
        one ``{index, ok, error}`` per event, in order (``error`` is '' when ok)."""
        self._check_manager()
        if not isinstance(events, list):
            raise UserError(_("check_events takes a list of events."))
        if len(events) > MAX_INGEST_BATCH:
            raise UserError(_("check_events takes at most %s events.", MAX_INGEST_BATCH))
        results = []
        for index, event in enumerate(events):
            try:
                validate_event(event)
            except EventRejected as error:
                results.append({"index": index, "ok": False, "error": error.message})
            else:
                results.append({"index": index, "ok": True, "error": ""})
        return results
