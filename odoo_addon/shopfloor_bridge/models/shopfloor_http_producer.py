"""Producers allowed to post to a connection's HTTP intake, each with its bearer token.

Odoo keeps only the SHA-256 of a token (and its last four characters, to tell
tokens apart): the "Generate token" wizard shows the token once and never
again; generating another replaces it. The sidecar compares the hash of what a
producer sends with ``token_sha256``. A producer's ``source_prefix`` limits the
CloudEvent sources it may send. Only Shop Floor Bridge managers see producers.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..field_guard import refuse_protected_write
from ..wizard.shopfloor_http_producer_token import new_token, token_digest

# Set by the token wizard only (sudo, logged in the connection's chatter).
TOKEN_FIELDS = {"token_sha256": "Generate token", "token_hint": "Generate token", "token_date": "Generate token"}


class ShopfloorHttpProducer(models.Model):
    _name = "shopfloor.http.producer"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "HTTP intake producer"
    _order = "connection_id, name, id"

    name = fields.Char(required=True, help="Who posts with this token (an MES, a line PC), as the sidecar logs it.")
    active = fields.Boolean(default=True)
    source_prefix = fields.Char(
        help="The CloudEvent sources its events may carry start with this (e.g. plant1/line3/); empty: any.",
    )
    token_sha256 = fields.Char(string="Token SHA-256", readonly=True, copy=False)
    token_hint = fields.Char(string="Token ends with", readonly=True, copy=False)
    token_date = fields.Datetime(string="Token generated", readonly=True, copy=False)
    has_token = fields.Boolean(compute="_compute_has_token")

    _sql_constraints = [
        ("name_uniq", "unique(connection_id, name)", "A producer name is unique per connection."),
    ]

    @api.depends("token_sha256")
    def _compute_has_token(self):
        for producer in self:
            producer.has_token = bool(producer.token_sha256)

    @api.constrains("source_prefix")
    def _check_source_prefix(self):
        for producer in self:
            prefix = producer.source_prefix or ""
            if len(prefix) > 256 or any(ord(ch) < 32 for ch in prefix):
                raise ValidationError(
                    _("Producer %s: the source prefix is at most 256 printable characters.", producer.name)
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            refuse_protected_write(self, vals, TOKEN_FIELDS, "create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, TOKEN_FIELDS)
        return super().write(vals)

    def _mapping_label(self):
        return _("HTTP producer %s", self.name)

    def _sidecar_producer(self):
        """This producer as ``HttpProducer`` (sidecar/src/core/contract.ts)."""
        self.ensure_one()
        return {"name": self.name, "token_sha256": self.token_sha256, "source_prefix": self.source_prefix or ""}

    def action_generate_token(self):
        """Makes a new token for this producer (the old one stops working) and opens
        the dialog that shows it, once."""
        self.ensure_one()
        self.check_access("write")
        token = new_token()
        self.sudo().write(
            {"token_sha256": token_digest(token), "token_hint": token[-4:], "token_date": fields.Datetime.now()}
        )
        self.connection_id.sudo().message_post(
            body=_("New token for HTTP producer %(name)s (ends with …%(hint)s).", name=self.name, hint=token[-4:]),
            subtype_xmlid="mail.mt_note",
        )
        return self.env["shopfloor.http.producer.token"]._show_action(self, token)
