import json
import logging
from datetime import timedelta

from psycopg2 import errors

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import alerting
from ..secret_columns import store_each_quietly, store_quietly, without_quiet

_logger = logging.getLogger(__name__)

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"
# Its path is the webhook's password: kept out of the ORM's statements (secret_columns).
QUIET_FIELDS = ("webhook_url",)


class ShopfloorAlertRule(models.Model):
    """When a connection needs a person: one condition and its threshold.

    Evaluated by a cron every minute, on each heartbeat of the connection and,
    for the dead-letter kinds, when an ingest leaves dead or rejected events.
    What each kind measures is in ``alerting.py``."""

    _name = "shopfloor.alert.rule"
    _description = "Shop Floor Alert Rule"
    _order = "connection_id, sequence, id"

    connection_id = fields.Many2one("shopfloor.connection", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(alerting.KIND_SELECTION, required=True)
    threshold = fields.Float(
        string="N",
        required=True,
        default=0.0,
        help="The limit in the rule's unit: seconds for heartbeats and sources, events for the spool and dead "
        "letters, events per minute for spool growth, events per hour for dead letters, minutes for pending "
        "events, milliseconds for clock skew (0: the connection's skew bound).",
    )
    unit = fields.Char(compute="_compute_unit")
    name = fields.Char(compute="_compute_name", store=True)
    webhook_kind = fields.Selection(
        alerting.WEBHOOK_KINDS,
        string="Webhook",
        help="Also post this rule's alerts to this webhook. Empty: the connection's webhook, if any.",
    )
    webhook_url = fields.Char(
        groups=MANAGER_GROUP,
        help="The receiver's URL (a Slack or Teams webhook URL holds its secret: only managers see it).",
    )
    state = fields.Selection([("ok", "OK"), ("alert", "Alert")], compute="_compute_state")
    last_value = fields.Float(readonly=True, copy=False, help="What the rule measured last.")
    last_checked = fields.Datetime(readonly=True, copy=False)
    # What the measure keeps between evaluations (growth rates, since when a source is down).
    sample_value = fields.Float(readonly=True, copy=False)
    sample_at = fields.Datetime(readonly=True, copy=False)
    condition_since = fields.Datetime(readonly=True, copy=False)
    alert_ids = fields.One2many("shopfloor.alert", "rule_id", string="Alerts")

    _sql_constraints = [
        ("threshold_not_negative", "check(threshold >= 0)", "An alert rule's threshold (N) cannot be negative."),
    ]

    @api.depends("kind")
    def _compute_unit(self):
        for rule in self:
            rule.unit = alerting.KINDS[rule.kind][1] if rule.kind else ""

    @api.depends("kind", "threshold")
    def _compute_name(self):
        for rule in self:
            if not rule.kind:
                rule.name = ""
                continue
            label, unit, _default = alerting.KINDS[rule.kind]
            if rule.kind == "clock_skew" and not rule.threshold:
                rule.name = _("Clock skew beyond the connection's bound")
            else:
                rule.name = f"{label} {rule.threshold:g} {unit.split(' ')[0]}"

    def _compute_state(self):
        open_rules = set(self._open_alerts().mapped("rule_id").ids)
        for rule in self:
            rule.state = "alert" if rule.id in open_rules else "ok"

    def _open_alerts(self):
        return self.env["shopfloor.alert"].sudo().search([("rule_id", "in", self.ids), ("state", "=", "open")])

    # ------------------------------------------------------------------ evaluation

    @api.model
    def _cron_evaluate(self):
        connections = self.env["shopfloor.connection"].sudo().search([])
        self.sudo()._evaluate_connections(connections)

    @api.model
    def _evaluate_connections(self, connections, kinds=None):
        """Evaluates the active rules of ``connections`` (only ``kinds`` when given);
        never raises: an alert that cannot be checked must not fail the heartbeat or
        the ingest that asked, it is logged."""
        domain = [("connection_id", "in", connections.ids)]
        if kinds:
            domain.append(("kind", "in", list(kinds)))
        rules = self.sudo().search(domain)
        if not rules:
            return
        try:
            with self.env.cr.savepoint():
                rules._evaluate()
        except errors.SerializationFailure:
            # A heartbeat evaluated these rules after this transaction began: it has done the work.
            _logger.info("shopfloor_bridge: alert rules of %s evaluated concurrently", connections.mapped("code"))
        except Exception:
            _logger.exception("shopfloor_bridge: alert rules of %s could not be evaluated", connections.mapped("code"))

    def _evaluate(self, now=None):
        """Opens, updates or resolves each rule's alert; returns the alerts opened and resolved."""
        now = now or fields.Datetime.now()
        rules = self._lock_free()
        figures = {}
        alerts = self.env["shopfloor.alert"].sudo()
        open_by_rule = {alert.rule_id.id: alert for alert in rules._open_alerts()}
        opened = resolved = alerts
        for rule in rules:
            connection = rule.connection_id
            if connection.id not in figures:
                kinds = rules.filtered(lambda r, c=connection: r.connection_id == c).mapped("kind")
                figures[connection.id] = self._figures(connection, now, kinds)
            sample = alerting.Sample(
                rule.sample_value if rule.sample_at else None, rule.sample_at or None, rule.condition_since or None
            )
            verdict = alerting.verdict(rule.kind, rule.threshold, figures[connection.id], sample)
            rule.write(
                {
                    "last_value": verdict.value,
                    "last_checked": now,
                    "sample_value": verdict.sample.value or 0.0,
                    "sample_at": verdict.sample.at or False,
                    "condition_since": verdict.sample.since or False,
                }
            )
            alert = open_by_rule.get(rule.id)
            if verdict.breached is None:
                continue
            if verdict.breached and not alert:
                opened |= alerts._open(rule, verdict, now)
            elif verdict.breached:
                alert.write({"value": verdict.value, "message": verdict.detail})
            elif alert:
                alert._resolve(verdict, now)
                resolved |= alert
        return opened, resolved

    def _lock_free(self):
        """The rules no other transaction is evaluating now (a heartbeat and the cron at
        once): each alert opens once."""
        if not self.ids:
            return self
        self.env.cr.execute(
            "SELECT id FROM shopfloor_alert_rule WHERE id IN %s AND active ORDER BY id FOR UPDATE SKIP LOCKED",
            [tuple(self.ids)],
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model_create_multi
    def create(self, vals_list):
        vals_list, quiet = without_quiet(self, vals_list, QUIET_FIELDS, "create")
        rules = super().create(vals_list)
        store_each_quietly(rules, quiet)
        return rules

    def write(self, vals):
        [vals], [quiet] = without_quiet(self, [vals], QUIET_FIELDS, "write")
        result = super().write(vals)
        store_quietly(self, quiet)
        return result

    @api.constrains("webhook_url")
    def _check_webhook_url(self):
        for rule in self.sudo():
            error = alerting.webhook_url_error(rule.webhook_url)
            if error:
                raise ValidationError(
                    _(
                        "Alert rule %(rule)s of connection %(code)s: the webhook URL cannot be used: %(error)s.",
                        rule=rule.name or rule.kind,
                        code=rule.connection_id.code,
                        error=error,
                    )
                )

    def _webhook(self):
        """(kind, url) this rule's alerts are posted to, or (False, False)."""
        self.ensure_one()
        rule = self.sudo()
        if rule.webhook_kind and rule.webhook_url:
            return rule.webhook_kind, rule.webhook_url.strip()
        connection = rule.connection_id
        if connection.alert_webhook_kind and connection.alert_webhook_url:
            return connection.alert_webhook_kind, connection.alert_webhook_url.strip()
        return False, False

    def action_check_now(self):
        """Evaluates these rules now (the form's button; also what a test calls)."""
        self.connection_id.check_access("write")
        self.sudo()._evaluate()
        return True

    @api.model
    def _figures(self, connection, now, kinds):
        """What ``connection``'s rules of ``kinds`` read: its last heartbeat and its events."""
        stats = {}
        try:
            parsed = json.loads(connection.stats_json or "{}")
            stats = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            stats = {}
        figures = alerting.Figures(
            now=now,
            last_seen=connection.last_seen or None,
            stats=stats,
            spool_depth=connection.spool_depth,
            skew_bound_ms=connection.skew_bound_ms,
        )
        events = self.env["shopfloor.event"].sudo()
        dead_states = ("dead", "rejected", "failed")
        if "dlq_count" in kinds:
            figures.dead_letters = events.search_count(
                [("connection_id", "=", connection.id), ("state", "in", dead_states)]
            )
        if "dlq_rate" in kinds:
            # write_date: when the event was stored or last changed state (a retry moves it too).
            figures.dead_letters_last_hour = events.search_count(
                [
                    ("connection_id", "=", connection.id),
                    ("state", "in", dead_states),
                    ("write_date", ">=", now - timedelta(hours=1)),
                ]
            )
        if "pending_age" in kinds:
            events.flush_model(["state", "pending_since", "ingest_time", "connection_id"])
            self.env.cr.execute(
                "SELECT min(coalesce(pending_since, ingest_time, create_date)) FROM shopfloor_event "
                "WHERE connection_id = %s AND state = 'pending'",
                [connection.id],
            )
            figures.oldest_pending = self.env.cr.fetchone()[0]
        return figures
