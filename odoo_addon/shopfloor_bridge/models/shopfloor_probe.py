"""Probes: questions an admin asks the floor through a connection's sidecar.

Odoo cannot reach the plant network; the sidecar reaches Odoo. So a probe is
a row the form creates (browse an OPC UA node's children, read a node or a
PLC address once) and the sidecar of that connection picks up with ``pull``
and answers with ``answer``, both as the connection's integration user, as
it does floor dispatch messages. The form polls ``status`` until the answer
is there or the request expired.

States: pending → taken (pulled) → done | failed (the floor's error is an
answer too) | expired (no sidecar took it in time, or it took it and never
answered). An expired request says which sidecar did not answer and when it
last reported, so the form never waits for nothing.

The sidecar polls ``pull`` at the pace its answer names (``poll_ms``): quick
while someone has asked something of the connection in the last minute (an
admin is browsing), slower otherwise. Timing lives in epoch floats: Odoo
datetimes keep whole seconds.
"""

import json
import time

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_datetime

from ..rpc_errors import rpc_error
from .shopfloor_connection import MANAGER_GROUP, check_rpc_caller, refuse_connection, xmlrpc_safe

OPS = [("browse", "Browse children"), ("read", "Read once")]
STATES = [
    ("pending", "Waiting for the sidecar"),
    ("taken", "Taken by the sidecar"),
    ("done", "Answered"),
    ("failed", "Answered with an error"),
    ("expired", "No answer"),
]
# What each connection kind's sidecar can answer.
BROWSABLE_KINDS = ("opcua",)
READABLE_KINDS = ("opcua", "modbus", "s7", "enip")
# Not taken this long after the request: the sidecar is not polling (down, or no such sidecar).
PICKUP_SECONDS = 10
# Taken but not answered this long after: the sidecar died or hung on the floor (it bounds its own work below this).
ANSWER_SECONDS = 30
# Someone asked within this window: the sidecar polls at the quick pace.
ACTIVE_SECONDS = 60
QUICK_POLL_MS = 250
IDLE_POLL_MS = 1000
MAX_TARGET = 4096
MAX_RESULT_BYTES = 1024 * 1024
# Answered or expired probes are history for a day (the autovacuum removes older ones).
KEEP_SECONDS = 86400


def check_admin(env):
    """Browsing the floor is for the module's administrators (Shop Floor Bridge / Manager)."""
    if env.su or env.user.has_group(MANAGER_GROUP):
        return
    raise AccessError(
        env._("Only Shop Floor Bridge managers may browse or read the floor through a connection's sidecar.")
    )


class ShopfloorProbe(models.Model):
    _name = "shopfloor.probe"
    _description = "Shop Floor Probe (browse / read once through the sidecar)"
    _order = "id desc"

    connection_id = fields.Many2one(
        "shopfloor.connection", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    op = fields.Selection(OPS, string="Operation", required=True, readonly=True)
    target = fields.Char(
        readonly=True, help="OPC UA node id (empty: the Objects folder) or the PLC address, in the rule's syntax."
    )
    state = fields.Selection(STATES, default="pending", required=True, index=True, readonly=True)
    result_json = fields.Text(string="Answer", readonly=True)
    error = fields.Text(readonly=True)
    error_code = fields.Char(readonly=True, help="What kind of failure (the sidecar's code: unknown_node, …).")
    requested_epoch = fields.Float(digits=(16, 3), readonly=True)
    taken_epoch = fields.Float(digits=(16, 3), readonly=True)
    answered_epoch = fields.Float(digits=(16, 3), readonly=True)

    # ------------------------------------------------------------- the form

    @api.model
    def request(self, connection_id, op, target=""):
        """Asks the connection's sidecar; returns ``{id, pickup_s, answer_s}`` (the form then polls ``status``)."""
        check_admin(self.env)
        if op not in dict(OPS):
            raise UserError(_("Unknown probe operation %r: browse or read.", op))
        if not isinstance(target, str | bool) or len(target or "") > MAX_TARGET:
            raise UserError(_("The node id or address must be text of at most %s characters.", MAX_TARGET))
        valid_id = isinstance(connection_id, int) and not isinstance(connection_id, bool) and 0 < connection_id < 2**31
        connection = self.env["shopfloor.connection"].browse(connection_id if valid_id else [])
        if not valid_id or not connection.exists():
            raise UserError(_("No connection %r.", connection_id))
        # The caller's own rights: another company's connection is refused here.
        connection.check_access("read")
        kind = connection.kind
        allowed = BROWSABLE_KINDS if op == "browse" else READABLE_KINDS
        if kind not in allowed:
            kind_label = dict(connection._fields["kind"]._description_selection(self.env)).get(kind, kind)
            if op == "browse":
                message = _(
                    "Connection %(code)s is a %(kind)s connection: its sidecar has no address space to browse "
                    "(only OPC UA connections do).",
                    code=connection.code,
                    kind=kind_label,
                )
            else:
                message = _(
                    "Connection %(code)s is a %(kind)s connection: its sidecar reads nothing once "
                    "(only OPC UA and PLC connections do).",
                    code=connection.code,
                    kind=kind_label,
                )
            raise UserError(message)
        if not connection.active:
            raise UserError(_("Connection %s is archived: no sidecar serves it.", connection.code))
        probe = self.sudo().create(
            {
                "connection_id": connection.id,
                "op": op,
                "target": (target or "").strip(),
                "requested_epoch": time.time(),
            }
        )
        return {"id": probe.id, "pickup_s": PICKUP_SECONDS, "answer_s": ANSWER_SECONDS}

    @api.model
    def status(self, ids):
        """Where each request stands: ``[{id, state, result, error, error_code, answer_ms}]``.

        Requests past their deadline are expired here, so a form polling a
        sidecar that is down gets its answer ("no answer since …") in time.
        """
        check_admin(self.env)
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise UserError(_("status expects a list of request ids."))
        companies = self.env.user.company_ids.ids
        probes = (
            self.sudo()
            .browse([i for i in ids if 0 < i < 2**31])
            .exists()
            .filtered(lambda p: p.company_id.id in companies)
        )
        probes._expire_overdue()
        return xmlrpc_safe([probe._status() for probe in probes])

    def _status(self):
        self.ensure_one()
        result = None
        if self.result_json:
            try:
                result = json.loads(self.result_json)
            except ValueError:
                result = None
        answer_ms = round((self.answered_epoch - self.requested_epoch) * 1000) if self.answered_epoch else 0
        return {
            "id": self.id,
            "op": self.op,
            "target": self.target or "",
            "state": self.state,
            "result": result if result is not None else False,
            "error": self.error or "",
            "error_code": self.error_code or "",
            "answer_ms": answer_ms,
        }

    def _expire_overdue(self, now=None):
        now = now or time.time()
        for probe in self:
            if probe.state == "pending" and probe.requested_epoch <= now - PICKUP_SECONDS:
                probe.write({"state": "expired", "error_code": "no_sidecar", "error": probe._no_sidecar_text()})
            elif probe.state == "taken" and probe.taken_epoch <= now - ANSWER_SECONDS:
                probe.write(
                    {
                        "state": "expired",
                        "error_code": "no_answer",
                        "error": _(
                            "The sidecar of connection %(code)s took the request but gave no answer within "
                            "%(seconds)s s (it may have stopped). Last report: %(seen)s.",
                            code=probe.connection_id.code,
                            seconds=ANSWER_SECONDS,
                            seen=probe._last_seen_text(),
                        ),
                    }
                )

    def _last_seen_text(self):
        seen = self.connection_id.last_seen
        return format_datetime(self.env, seen) if seen else _("never")

    def _no_sidecar_text(self):
        connection = self.connection_id
        if not connection.last_seen:
            return _(
                "No answer from the sidecar of connection %(code)s: it has never reported to Odoo. Start a sidecar "
                "with SHOPFLOOR_CONNECTION=%(code)s as one of the integration users on the connection's Security "
                "tab.",
                code=connection.code,
            )
        return _(
            "No answer from the sidecar of connection %(code)s within %(seconds)s s; it last reported at %(seen)s. "
            "Is it running, and can it reach Odoo?",
            code=connection.code,
            seconds=PICKUP_SECONDS,
            seen=self._last_seen_text(),
        )

    # -------------------------------------------------------------- sidecar API

    @api.model
    def pull(self, code, limit=20):
        """Requests waiting for this connection's sidecar, marked taken: ``{requests: [{id, op, target}], poll_ms}``."""
        connection = self.env["shopfloor.connection"]._find_by_code(code)
        try:
            limit = max(1, min(int(limit or 20), 200))
        except (TypeError, ValueError, OverflowError) as err:
            raise rpc_error("bad_request", _("limit must be a number, got %r", limit)) from err
        now = time.time()
        Probe = self.sudo()
        base = [("connection_id", "=", connection.id)]
        waiting = Probe.search(
            base + [("state", "=", "pending"), ("requested_epoch", ">", now - PICKUP_SECONDS)],
            order="id",
            limit=limit,
        )
        if waiting:
            waiting.write({"state": "taken", "taken_epoch": now})
        active = waiting or Probe.search_count(base + [("requested_epoch", ">", now - ACTIVE_SECONDS)], limit=1)
        return {
            "requests": [{"id": probe.id, "op": probe.op, "target": probe.target or ""} for probe in waiting],
            "poll_ms": QUICK_POLL_MS if active else IDLE_POLL_MS,
        }

    @api.model
    def answer(self, results):
        """Answers: ``[{id, ok, result} | {id, ok: false, error, code}]``. Returns True."""
        allowed = check_rpc_caller(self.env)
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            raise rpc_error("bad_request", _("answer expects a list of {id, ok, result | error, code}."))
        by_id = {}
        for item in results:
            probe_id = item.get("id")
            if isinstance(probe_id, int) and not isinstance(probe_id, bool) and 0 < probe_id < 2**31:
                by_id[probe_id] = item
        probes = self.sudo().browse(list(by_id)).exists()
        foreign = probes.filtered(lambda p: allowed is not None and p.connection_id not in allowed)
        if foreign:
            # A sidecar answers only what it pulled: another connection's request means a wrong key or a forgery.
            raise refuse_connection(self.env, foreign[:1].connection_id)
        now = time.time()
        for probe in probes:
            if probe.state not in ("pending", "taken"):
                continue  # expired meanwhile: the form has moved on
            probe.write(probe._answer_values(by_id[probe.id], now))
        return True

    def _answer_values(self, item, now):
        if item.get("ok") is True:
            text = json.dumps(item.get("result"), sort_keys=True, default=str)
            if len(text) <= MAX_RESULT_BYTES:
                return {"state": "done", "result_json": text, "answered_epoch": now, "error": False}
            item = {
                "code": "too_large",
                "error": _("The answer is larger than %s bytes: browse a deeper node.", MAX_RESULT_BYTES),
            }
        return {
            "state": "failed",
            "error": str(item.get("error") or _("the sidecar failed without a reason"))[:4000],
            "error_code": str(item.get("code") or "")[:64],
            "answered_epoch": now,
        }

    @api.autovacuum
    def _gc_probes(self):
        self.sudo().search([("requested_epoch", "<", time.time() - KEEP_SECONDS)]).unlink()
