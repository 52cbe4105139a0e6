import logging
import time

import requests
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from .. import alerting
from ..backoff import next_retry_at
from ..secret_columns import store_each_quietly, without_quiet

_logger = logging.getLogger(__name__)

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"
# A delivery cron run stops starting new posts after this long; the rest waits for the next run.
DELIVERY_BUDGET_S = 30.0
WEBHOOK_RETRY_BASE_S = 60


class ShopfloorAlert(models.Model):
    """One stretch of time a rule's condition held: opened once, resolved once."""

    _name = "shopfloor.alert"
    _description = "Shop Floor Alert"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state desc, opened_at desc, id desc"
    _rec_name = "title"
    # Whoever may read an alert may comment on it and mark its activity done.
    _mail_post_access = "read"

    rule_id = fields.Many2one("shopfloor.alert.rule", required=True, index=True, ondelete="cascade", readonly=True)
    connection_id = fields.Many2one(related="rule_id.connection_id", store=True, index=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True, index=True)
    kind = fields.Selection(related="rule_id.kind", store=True)
    title = fields.Char(readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved")], required=True, default="open", readonly=True, index=True
    )
    opened_at = fields.Datetime(required=True, readonly=True)
    resolved_at = fields.Datetime(readonly=True)
    duration_minutes = fields.Float(string="Duration (min)", compute="_compute_duration")
    message = fields.Text(readonly=True, help="What the rule measured last.")
    open_message = fields.Text(string="When opened", readonly=True)
    value = fields.Float(readonly=True, help="The rule's measure last time it was checked.")
    threshold = fields.Float(string="N", readonly=True, help="The rule's threshold when the alert opened.")
    notified_partner_ids = fields.Many2many("res.partner", string="Notified", readonly=True)
    delivery_ids = fields.One2many("shopfloor.alert.delivery", "alert_id", string="Webhook deliveries")
    delivery_failed = fields.Boolean(compute="_compute_delivery_failed", store=True)

    def init(self):
        # The database's guarantee behind "opens once": one open alert per rule.
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS shopfloor_alert_one_open_per_rule "
            "ON shopfloor_alert (rule_id) WHERE state = 'open'"
        )

    @api.depends("opened_at", "resolved_at")
    def _compute_duration(self):
        now = fields.Datetime.now()
        for alert in self:
            end = alert.resolved_at or now
            alert.duration_minutes = (end - alert.opened_at).total_seconds() / 60 if alert.opened_at else 0.0

    @api.depends("delivery_ids.state")
    def _compute_delivery_failed(self):
        for alert in self:
            alert.delivery_failed = "failed" in alert.delivery_ids.mapped("state")

    # ------------------------------------------------------------------ lifecycle

    @api.model
    def _open(self, rule, verdict, now):
        alert = self.sudo().create(
            {
                "rule_id": rule.id,
                "title": f"{rule.connection_id.code}: {rule.name}",
                "opened_at": now,
                "message": verdict.detail,
                "open_message": verdict.detail,
                "value": verdict.value,
                "threshold": rule.threshold,
            }
        )
        alert._notify("opened")
        return alert

    def _resolve(self, verdict, now):
        self.write({"state": "resolved", "resolved_at": now, "message": verdict.detail, "value": verdict.value})
        self._notify("resolved")

    # ------------------------------------------------------------------ notification

    def _recipients(self):
        """The connection's responsible users; without any, one manager of its company."""
        self.ensure_one()
        connection = self.connection_id
        users = connection.responsible_user_ids.filtered(lambda u: u.active and not u.share)
        if users:
            return users
        managers = self.env.ref(MANAGER_GROUP).users.filtered(
            lambda u: u.active and not u.share and u.id != 1 and connection.company_id in u.company_ids
        )
        return managers[:1]

    def _notice(self, transition):
        self.ensure_one()
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        return alerting.Notice(
            transition=transition,
            connection=self.connection_id.code,
            rule=self.rule_id.name,
            kind=self.kind,
            message=self.open_message if transition == "opened" else self.message,
            value=self.value,
            threshold=self.threshold,
            opened_at=fields.Datetime.to_string(self.opened_at) + " UTC",
            resolved_at=(fields.Datetime.to_string(self.resolved_at) + " UTC") if self.resolved_at else "",
            url=f"{base.rstrip('/')}/odoo/shopfloor.alert/{self.id}" if base else "",
        )

    def _notify(self, transition):
        """Activity (on open; marked done on resolve), e-mail to each recipient, a note in
        the alert's chatter, and the webhook delivery queued for the delivery cron."""
        for alert in self.sudo():
            notice = alert._notice(transition)
            users = alert._recipients()
            body = Markup("<p><strong>%s</strong></p><p>%s</p>") % (notice.title, notice.message)
            if notice.url:
                body += Markup('<p><a href="%s">%s</a></p>') % (notice.url, _("Open the alert in Odoo"))
            if transition == "opened":
                for user in users:
                    alert.activity_schedule(
                        "mail.mail_activity_data_todo", summary=notice.title[:250], note=body, user_id=user.id
                    )
            else:
                alert.activity_ids.action_feedback(feedback=notice.message)
            partners = users.partner_id.filtered("email")
            if partners:
                self.env["mail.mail"].sudo().create(
                    {
                        "subject": notice.title,
                        "body_html": body,
                        "email_from": alert._email_from(),
                        "recipient_ids": [(6, 0, partners.ids)],
                        "model": alert._name,
                        "res_id": alert.id,
                        "auto_delete": False,
                    }
                )
                alert.notified_partner_ids = [(4, partner.id) for partner in partners]
            alert.message_post(body=body, message_type="notification", subtype_xmlid="mail.mt_note")
            kind, url = alert.rule_id._webhook()
            if kind:
                self.env["shopfloor.alert.delivery"].sudo().create(
                    {
                        "alert_id": alert.id,
                        "transition": transition,
                        "kind": kind,
                        "url": url,
                        "payload": alerting.webhook_payload(kind, notice),
                    }
                )
                self.env.ref("shopfloor_bridge.shopfloor_alert_cron_deliver")._trigger()

    def _email_from(self):
        company = self.company_id or self.env.company
        return (
            company.email_formatted
            or self.env["ir.mail_server"]._get_default_from_address()
            or self.env.ref("base.partner_root").email_formatted
        )


class ShopfloorAlertDelivery(models.Model):
    """One webhook post of one alert's news, sent by a cron (a dead receiver never holds
    up the heartbeat or the evaluation), retried with backoff, failures kept here."""

    _name = "shopfloor.alert.delivery"
    _description = "Shop Floor Alert Webhook Delivery"
    _order = "id desc"

    alert_id = fields.Many2one("shopfloor.alert", required=True, index=True, ondelete="cascade", readonly=True)
    connection_id = fields.Many2one(related="alert_id.connection_id", store=True)
    company_id = fields.Many2one(related="alert_id.company_id", store=True)
    transition = fields.Selection([("opened", "Opened"), ("resolved", "Resolved")], required=True, readonly=True)
    kind = fields.Selection(alerting.WEBHOOK_KINDS, required=True, readonly=True)
    # Stored after the row (secret_columns): the INSERT never holds it.
    url = fields.Char(readonly=True, groups=MANAGER_GROUP)
    payload = fields.Text(required=True, readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
        required=True,
        default="pending",
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_try_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    sent_at = fields.Datetime(readonly=True)
    response_status = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)

    @api.model
    def _cron_deliver(self, limit=100):
        due = self.sudo().search(
            [("state", "=", "pending"), ("next_try_at", "<=", fields.Datetime.now())], order="id", limit=limit
        )
        started = time.monotonic()
        done = 0
        for delivery in due:
            if time.monotonic() - started > DELIVERY_BUDGET_S:
                break
            delivery._post()
            done += 1
        remaining = self.sudo().search_count([("state", "=", "pending"), ("next_try_at", "<=", fields.Datetime.now())])
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model_create_multi
    def create(self, vals_list):
        vals_list, quiet = without_quiet(self, vals_list, ("url",), "create")
        deliveries = super().create(vals_list)
        store_each_quietly(deliveries, quiet)
        return deliveries

    def action_send_now(self):
        """Posts these deliveries now, whatever their state (the form's button)."""
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Shop Floor Bridge managers may send alert webhooks."))
        self.check_access("read")
        for delivery in self.sudo():
            delivery._post()
        return True

    def _post(self):
        self.ensure_one()
        connection = self.connection_id.sudo()
        timeout = min(
            alerting.MAX_WEBHOOK_TIMEOUT_S, connection.alert_webhook_timeout or alerting.DEFAULT_WEBHOOK_TIMEOUT_S
        )
        attempts = self.attempts + 1
        url = self.sudo().url
        try:
            response = requests.post(
                url,
                data=self.payload.encode(),
                headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "shopfloor-bridge"},
                timeout=timeout,
                allow_redirects=False,
            )
        except Exception as error:  # noqa: BLE001 - whatever the URL or the network did, this delivery failed
            # The exception names the URL, whose path is the webhook's secret.
            self._failed(attempts, _("Could not reach the receiver: %s", alerting.redact_webhook_url(error, url)))
            return
        if 200 <= response.status_code < 300:
            self.write(
                {
                    "state": "sent",
                    "attempts": attempts,
                    "sent_at": fields.Datetime.now(),
                    "response_status": response.status_code,
                    "last_error": False,
                }
            )
            return
        self._failed(
            attempts,
            _(
                "The receiver answered HTTP %(status)s: %(body)s",
                status=response.status_code,
                # A receiver may echo the path it was asked for ("Cannot POST /services/…").
                body=alerting.redact_webhook_url(response.text, url, limit=500),
            ),
            status=response.status_code,
        )

    def _failed(self, attempts, error, status=0):
        last = attempts >= alerting.WEBHOOK_MAX_ATTEMPTS
        self.write(
            {
                "state": "failed" if last else "pending",
                "attempts": attempts,
                "response_status": status,
                "last_error": error,
                "next_try_at": next_retry_at(fields.Datetime.now(), attempts, base=WEBHOOK_RETRY_BASE_S),
            }
        )
        _logger.warning("shopfloor_bridge: alert webhook %s (attempt %s) failed: %s", self.id, attempts, error)
        note = _(
            "Webhook (%(kind)s) for this alert's %(transition)s notice failed, attempt %(attempt)s of %(max)s: "
            "%(error)s",
            kind=self.kind,
            transition=self.transition,
            attempt=attempts,
            max=alerting.WEBHOOK_MAX_ATTEMPTS,
            error=error,
        )
        self.alert_id.message_post(body=note, message_type="notification", subtype_xmlid="mail.mt_note")
