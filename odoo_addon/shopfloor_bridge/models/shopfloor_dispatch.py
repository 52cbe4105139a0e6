"""Planning push-back: floor messages carrying a work center's queue.

Planning changes (MO confirm/cancel/done, priority, planned dates, WO
sequence, reschedule) mark work centers dirty during the transaction; a
precommit hook turns each dirty work center into at most one up-to-date
message per target (``_queue_workcenters``). A message not yet pulled is
updated in place, so a burst of changes coalesces into one floor write.

States: pending → sent (pulled by the sidecar) → acked | failed. A failed
write the sidecar calls retryable comes back in ``pull`` after a backoff;
older messages of a target that a newer one replaces are ``superseded`` and
never sent. Timing that must be finer than a second (settle window, retry
time) lives in epoch floats: Odoo datetimes keep whole seconds.
"""

import json
import logging
import time

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..backoff import backoff_seconds
from ..field_guard import refuse_protected_write
from ..rpc_errors import rpc_error
from .shopfloor_connection import check_rpc_caller, iso_utc, refuse_connection, xmlrpc_safe

_logger = logging.getLogger(__name__)

STATES = [
    ("pending", "Pending"),
    ("sent", "Sent"),
    ("acked", "Acknowledged"),
    ("failed", "Failed"),
    ("superseded", "Superseded"),
]
PLANNER_GROUPS = ("mrp.group_mrp_manager", "shopfloor_bridge.shopfloor_bridge_group_manager")
PRECOMMIT_KEY = "shopfloor_bridge.dispatch_dirty"
# Floor retries are quick at first (a PLC reboot), then slow down.
RETRY_BASE_SECONDS = 1
RETRY_CAP_SECONDS = 120
# A message pulled but never acked (sidecar died mid-write) is offered again.
SENT_TIMEOUT_SECONDS = 60
QUEUE_WO_STATES = ("pending", "waiting", "ready", "progress")
QUEUE_MO_STATES = ("confirmed", "progress", "to_close")


def check_planner(env):
    """Pushing to the floor is for planners (MRP administrators, shop-floor managers)."""
    if env.su or any(env.user.has_group(group) for group in PLANNER_GROUPS):
        return
    raise AccessError(
        env._(
            "Only planners (Manufacturing / Administrator or Shop Floor Bridge / Manager) may push queues to the floor."
        )
    )


def mark_dirty(records, workcenters, reason, productions=None):
    """Remembers work centers whose queue changed; messages are built once, before commit."""
    workcenters = workcenters.exists() if workcenters else workcenters
    if not workcenters:
        return
    env = records.env
    precommit = env.cr.precommit
    dirty = precommit.data.get(PRECOMMIT_KEY)
    if dirty is None:
        dirty = precommit.data[PRECOMMIT_KEY] = {}
        dispatch = env["shopfloor.dispatch"].sudo()

        def build_messages():
            # The callback runs once per flush; later changes register it again.
            entries = dict(dirty)
            dirty.clear()
            dispatch._flush_dirty(entries)

        precommit.add(build_messages)
    for workcenter in workcenters:
        entry = dirty.setdefault(workcenter.id, {"reasons": [], "production_ids": [], "changes": 0})
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)
        entry["changes"] += 1
        for production in productions or ():
            if production.id not in entry["production_ids"]:
                entry["production_ids"].append(production.id)


class ShopfloorDispatch(models.Model):
    _name = "shopfloor.dispatch"
    _description = "Shop Floor Dispatch Message"
    _order = "id desc"
    _rec_name = "display_name"

    target_id = fields.Many2one(
        "shopfloor.dispatch.target", required=True, ondelete="cascade", index=True, readonly=True
    )
    connection_id = fields.Many2one(related="target_id.connection_id", store=True, index=True)
    company_id = fields.Many2one(related="target_id.company_id", store=True, index=True)
    workcenter_id = fields.Many2one(related="target_id.workcenter_id", store=True, index=True)
    kind = fields.Selection(related="target_id.kind", store=True)
    version = fields.Integer(readonly=True, index=True, help="Increases with every queue built for the work center.")
    state = fields.Selection(STATES, default="pending", required=True, index=True, readonly=True)
    reason = fields.Char(readonly=True, help="What changed (coalesced changes list all their reasons).")
    change_count = fields.Integer(
        string="Changes", default=1, readonly=True, help="Planning changes this message carries."
    )
    production_id = fields.Many2one("mrp.production", string="Changed order", readonly=True, ondelete="set null")
    forced = fields.Boolean(string="Pushed manually", readonly=True)
    payload_json = fields.Text(string="Payload", readonly=True)
    queue_preview = fields.Text(string="Queue", readonly=True)
    sent_at = fields.Datetime(readonly=True)
    acked_at = fields.Datetime(string="Floor ack", readonly=True)
    retry_count = fields.Integer(readonly=True)
    retryable = fields.Boolean(readonly=True)
    error = fields.Text(readonly=True)
    next_retry_at = fields.Datetime(readonly=True)
    superseded_by_id = fields.Many2one("shopfloor.dispatch", readonly=True, ondelete="set null")
    # Sub-second timing (see module docstring).
    first_change_epoch = fields.Float(digits=(16, 3), readonly=True)
    last_change_epoch = fields.Float(digits=(16, 3), readonly=True)
    sent_epoch = fields.Float(digits=(16, 3), readonly=True)
    next_retry_epoch = fields.Float(digits=(16, 3), readonly=True)

    @api.depends("workcenter_id", "version", "kind")
    def _compute_display_name(self):
        for message in self:
            message.display_name = (
                f"{message.workcenter_id.display_name or ''} v{message.version} ({message.kind or ''})"
            )

    # ------------------------------------------------------------------ building

    @api.model
    def _flush_dirty(self, entries):
        # Most work centers have no floor target: one query, and nothing more for them.
        with_targets = set(self._targets_of(self.env["mrp.workcenter"].browse(list(entries))).workcenter_id.ids)
        for workcenter_id, entry in entries.items():
            if workcenter_id not in with_targets:
                continue
            workcenter = self.env["mrp.workcenter"].browse(workcenter_id)
            try:
                with self.env.cr.savepoint(flush=False):
                    self._queue_workcenters(
                        workcenter,
                        reason=", ".join(entry["reasons"]),
                        productions=self.env["mrp.production"].browse(entry["production_ids"]).exists(),
                        changes=entry["changes"],
                    )
                    self.env.flush_all()
            except Exception as err:  # noqa: BLE001 - the planner's change must still commit
                _logger.exception("could not build the floor queue of %s", workcenter.display_name)
                self._record_build_failure(workcenter, entry, err)
        self.env.flush_all()

    def _record_build_failure(self, workcenter, entry, err):
        """A queue that cannot be built is shown as a failed message, not lost in a log."""
        for target in self._targets_of(workcenter):
            self.create(
                {
                    "target_id": target.id,
                    "version": workcenter._next_dispatch_version(),
                    "state": "failed",
                    "reason": ", ".join(entry["reasons"]),
                    "error": _("Could not build the queue: %s", err),
                    "retryable": False,
                }
            )

    @api.model
    def _targets_of(self, workcenters):
        return (
            self.env["shopfloor.dispatch.target"]
            .sudo()
            .search([("workcenter_id", "in", workcenters.ids), ("connection_id.active", "=", True)])
        )

    @api.model
    def _queue_workcenters(self, workcenters, reason, productions=None, changes=1, forced=False):
        """Builds (or refreshes) one message per target of each work center. Returns the messages."""
        messages = self.browse()
        now = time.time()
        for workcenter in workcenters:
            targets = self._targets_of(workcenter)
            if not targets:
                continue
            depth = max(targets.mapped("depth"))
            queue = self._build_queue(workcenter, depth)
            for target in targets:
                target_queue = queue[: target.depth]
                pending = self.search([("target_id", "=", target.id), ("state", "=", "pending")], order="version desc")
                latest = pending[:1] or self.search(
                    [("target_id", "=", target.id), ("state", "in", ("sent", "acked", "failed"))],
                    order="version desc",
                    limit=1,
                )
                # Nothing the floor shows changed (e.g. a WO of a draft MO): no write.
                if not forced and latest and latest._queue() == target_queue:
                    continue
                if not forced and not latest and not target_queue:
                    continue
                version = workcenter._next_dispatch_version()
                changed = self._changed_entry(workcenter, productions, queue)
                payload = {
                    "workcenter": target._workcenter_ref(),
                    "workcenter_name": workcenter.name or "",
                    "version": version,
                    "depth": target.depth,
                    "reason": reason,
                    "changed": changed or False,
                    "queue": target_queue,
                    "generated_at": iso_utc(fields.Datetime.now()),
                }
                values = {
                    "version": version,
                    "payload_json": json.dumps(payload),
                    "queue_preview": self._preview(target_queue),
                    "production_id": productions[-1:].id if productions else False,
                    "last_change_epoch": now,
                }
                if pending:
                    message = pending[0]
                    message.write(
                        {
                            **values,
                            "reason": _merge_reasons(message.reason, reason),
                            "change_count": message.change_count + changes,
                            "forced": message.forced or forced,
                        }
                    )
                    (pending - message)._supersede(message)
                else:
                    message = self.create(
                        {
                            **values,
                            "target_id": target.id,
                            "reason": reason,
                            "change_count": changes,
                            "forced": forced,
                            "first_change_epoch": now,
                        }
                    )
                # A failed message waiting for its retry would write an older queue: it is replaced.
                self.search(
                    [("target_id", "=", target.id), ("state", "=", "failed"), ("version", "<", version)]
                )._supersede(message)
                messages |= message
        return messages

    def _supersede(self, newer):
        if self:
            self.write(
                {"state": "superseded", "superseded_by_id": newer.id, "next_retry_epoch": 0, "next_retry_at": False}
            )

    def _queue(self):
        self.ensure_one()
        try:
            return json.loads(self.payload_json or "{}").get("queue", [])
        except ValueError:
            return None

    @api.model
    def _queue_workorders(self, workcenter):
        workorders = (
            self.env["mrp.workorder"]
            .sudo()
            .search(
                [
                    ("workcenter_id", "=", workcenter.id),
                    ("state", "in", QUEUE_WO_STATES),
                    ("production_id.state", "in", QUEUE_MO_STATES),
                ]
            )
        )
        far = fields.Datetime.to_datetime("9999-12-31 00:00:00")
        # Running work first, then urgent before normal, then by planned start.
        return workorders.sorted(
            lambda wo: (
                wo.state != "progress",
                -int(wo.production_id.priority or 0),
                wo.date_start or wo.production_id.date_start or far,
                wo.sequence,
                wo.production_id.id,
                wo.id,
            )
        )

    @api.model
    def _queue_entry(self, workorder, slot):
        production = workorder.production_id
        return {
            "slot": slot,
            "order": production.name or "",
            "workorder": workorder.display_name or "",
            "production_id": production.id,
            "workorder_id": workorder.id,
            "product": production.product_id.display_name or "",
            "qty": workorder.qty_remaining,
            "uom": workorder.product_uom_id.name or "",
            "priority": int(production.priority or 0),
            "start": iso_utc(workorder.date_start or production.date_start),
        }

    @api.model
    def _build_queue(self, workcenter, depth):
        workorders = self._queue_workorders(workcenter)[:depth]
        return [self._queue_entry(workorder, slot) for slot, workorder in enumerate(workorders)]

    @api.model
    def _changed_entry(self, workcenter, productions, queue):
        """The changed order as the floor sees it: its queue entry, or (left the queue) its last state."""
        if not productions:
            return False
        production = productions[-1]
        for entry in queue:
            if entry["production_id"] == production.id:
                return entry
        workorder = production.workorder_ids.filtered(lambda wo: wo.workcenter_id == workcenter)[:1]
        if not workorder:
            return False
        entry = self._queue_entry(workorder, -1)
        entry["state"] = production.state
        return entry

    @api.model
    def _preview(self, queue):
        lines = [
            f"{entry['slot']}: {entry['order']} {entry['product']} {entry['qty']:g} {entry['uom']}"
            f"{' ★' if entry['priority'] else ''} {entry['start'] or '-'}"
            for entry in queue
        ]
        return "\n".join(lines) or _("(empty queue)")

    # ------------------------------------------------------------- guarded ORM

    # Messages are built by the planning triggers and moved by pull/ack/Retry
    # (sudo): a plain write could change the payload the sidecar writes to a PLC.
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            refuse_protected_write(self, vals, self._guarded_fields(), "create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, self._guarded_fields())
        return super().write(vals)

    def _guarded_fields(self):
        return {name: "Retry" if name == "state" else None for name in self._fields}

    # ----------------------------------------------------------------- RPC API

    @api.model
    def pull(self, code, limit=50):
        """Pending floor messages of a connection, marked sent (DispatchMessage, ports.ts)."""
        connection = self.env["shopfloor.connection"]._find_by_code(code)
        try:
            limit = max(1, min(int(limit or 50), 1000))
        except (TypeError, ValueError, OverflowError) as err:
            raise rpc_error("bad_request", _("limit must be a number, got %r", limit)) from err
        now = time.time()
        settle = max(0, connection.dispatch_settle_ms) / 1000.0
        max_hold = max(0, connection.dispatch_max_hold_ms) / 1000.0
        Dispatch = self.sudo()
        base = [("connection_id", "=", connection.id)]
        candidates = Dispatch.search(
            base
            + [
                "|",
                "|",
                "&",
                ("state", "=", "pending"),
                "|",
                "|",
                ("forced", "=", True),
                ("last_change_epoch", "<=", now - settle),
                ("first_change_epoch", "<=", now - max_hold),
                "&",
                "&",
                ("state", "=", "failed"),
                ("retryable", "=", True),
                ("next_retry_epoch", ">", 0),
                "&",
                ("state", "=", "sent"),
                ("sent_epoch", "<=", now - SENT_TIMEOUT_SECONDS),
            ],
            order="version desc, id desc",
        )
        due_failed = candidates.filtered(
            lambda m: m.state != "failed"
            or (m.next_retry_epoch <= now and m.retry_count < connection.dispatch_max_attempts)
        )
        chosen = Dispatch.browse()
        seen_targets = set()
        for message in due_failed:
            if message.target_id.id in seen_targets:
                continue
            seen_targets.add(message.target_id.id)
            # Anything older still waiting for this target would overwrite the newer queue.
            Dispatch.search(
                [
                    ("target_id", "=", message.target_id.id),
                    ("state", "in", ("pending", "failed")),
                    ("version", "<", message.version),
                ]
            )._supersede(message)
            chosen |= message
        chosen = chosen.sorted(lambda m: (m.workcenter_id.id, m.version))[:limit]
        chosen.write({"state": "sent", "sent_at": fields.Datetime.now(), "sent_epoch": now})
        return xmlrpc_safe([message._as_dispatch_message() for message in chosen])

    def _as_dispatch_message(self):
        self.ensure_one()
        target = self.target_id
        return {
            "id": self.id,
            "workcenter": target._workcenter_ref(),
            "version": self.version,
            # Params as configured now: fixing a node id and retrying uses the fix.
            "target": {"kind": target.kind, "params": target._sidecar_params()},
            "payload": json.loads(self.payload_json or "{}"),
        }

    @api.model
    def ack(self, results):
        """Outcomes of floor writes: [{id, status: acked|failed, error, retryable?}]. Returns True."""
        allowed = check_rpc_caller(self.env)
        if not isinstance(results, list):
            raise rpc_error(
                "bad_request", _("ack expects a list of {id, status, error}, got %s", type(results).__name__)
            )
        problems = []
        companies = self.env.user.company_ids.ids
        foreign = (
            self.sudo()
            .browse(
                result["id"]
                for result in results
                if isinstance(result, dict)
                and isinstance(result.get("id"), int)
                and not isinstance(result["id"], bool)
                and 0 < result["id"] < 2**31
            )
            .exists()
            .filtered(lambda m: allowed is not None and m.connection_id not in allowed)
        )
        if foreign:
            # A sidecar acks only what it pulled: another connection's message means a wrong key or a forgery.
            raise refuse_connection(self.env, foreign[:1].connection_id)
        for index, result in enumerate(results):
            if not isinstance(result, dict) or result.get("status") not in ("acked", "failed"):
                problems.append(
                    _("item %(index)s: %(item)r is not {id, status: acked|failed, error}", index=index, item=result)
                )
                continue
            message_id = result.get("id")
            # Only an id PostgreSQL can compare: a huge number would fail the whole call.
            valid_id = isinstance(message_id, int) and not isinstance(message_id, bool) and 0 < message_id < 2**31
            message = self.sudo().browse(message_id).exists() if valid_id else self.sudo().browse()
            if not message or message.company_id.id not in companies:
                problems.append(_("item %(index)s: no dispatch message %(id)r", index=index, id=result.get("id")))
                continue
            message._apply_outcome(result)
        if problems:
            # The valid outcomes are kept: raising would roll them back and the sidecar would
            # resend the same batch forever (a message deleted with its target stays unknown).
            _logger.warning("dispatch ack: items not applied: %s", "; ".join(problems))
        return True

    def _apply_outcome(self, result):
        now = fields.Datetime.now()
        error = str(result.get("error") or "")[:4000]
        if result["status"] == "acked":
            values = {"acked_at": now, "error": False, "next_retry_epoch": 0, "next_retry_at": False}
            if self.state != "superseded":
                values["state"] = "acked"
            self.write(values)
            return
        retry_count = self.retry_count + 1
        retryable = bool(result.get("retryable", True))
        max_attempts = self.connection_id.dispatch_max_attempts
        values = {"retry_count": retry_count, "error": error or _("failed without a reason"), "retryable": retryable}
        if self.state == "superseded":
            self.write(values)
            return
        values["state"] = "failed"
        if retryable and retry_count < max_attempts:
            delay = backoff_seconds(retry_count, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS)
            values["next_retry_epoch"] = time.time() + delay
            values["next_retry_at"] = fields.Datetime.add(now, seconds=int(delay) + 1)
        else:
            values["next_retry_epoch"] = 0
            values["next_retry_at"] = False
            if retryable:
                values["error"] = _(
                    "%(error)s (gave up after %(count)s attempts)", error=values["error"], count=retry_count
                )
        self.write(values)

    # --------------------------------------------------------------- UI actions

    def action_retry(self):
        """Sends a failed message again now (after fixing the target, say)."""
        check_planner(self.env)
        failed = self.filtered(lambda m: m.state == "failed")
        if not failed:
            raise UserError(_("Only failed messages can be retried."))
        failed.sudo().write({"state": "pending", "forced": True, "next_retry_epoch": 0, "next_retry_at": False})
        return True


def _merge_reasons(old, new):
    reasons = [r for r in (old or "").split(", ") + (new or "").split(", ") if r]
    return ", ".join(dict.fromkeys(reasons))
