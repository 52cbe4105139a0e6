"""'Generate token' on an HTTP producer: a new bearer token, shown once.

The token is random (``secrets.token_urlsafe(32)``: 256 bits); the producer
keeps only its SHA-256 (hex) and last four characters. The token lives in this
wizard record only while the dialog is open: "Done" deletes it, and Odoo's
vacuum removes an abandoned one (transient records are readable by their
creator only). A new token replaces the old one at once: the sidecar reloads
its configuration when the revision moves and refuses the old token from then on.
"""

import hashlib
import secrets

from odoo import _, fields, models

TOKEN_BYTES = 32


def token_digest(token):
    """The SHA-256 (hex) the sidecar compares a presented bearer token with."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ShopfloorHttpProducerToken(models.TransientModel):
    _name = "shopfloor.http.producer.token"
    _description = "Shop Floor HTTP producer token (shown once)"
    _transient_max_hours = 0.5

    producer_id = fields.Many2one("shopfloor.http.producer", required=True, ondelete="cascade", readonly=True)
    token = fields.Char(readonly=True, help="Copy it now: it is not shown again.")

    def _generate(self):
        self.ensure_one()
        producer = self.producer_id
        producer.check_access("write")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        producer.sudo().write(
            {"token_sha256": token_digest(token), "token_hint": token[-4:], "token_date": fields.Datetime.now()}
        )
        self.sudo().token = token
        producer.connection_id.message_post(
            body=_("New token for HTTP producer %(name)s (ends with …%(hint)s).", name=producer.name, hint=token[-4:]),
            subtype_xmlid="mail.mt_note",
        )

    def action_done(self):
        self.unlink()
        return {"type": "ir.actions.act_window_close"}
