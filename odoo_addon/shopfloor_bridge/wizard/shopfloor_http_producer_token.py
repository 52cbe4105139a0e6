"""'Generate token' on an HTTP producer: a new bearer token, shown once.

The token is random (``secrets.token_urlsafe(32)``: 256 bits); the producer
keeps only its SHA-256 (hex) and last four characters. As Odoo's own API-key
dialog (``res.users.apikeys.show``) the dialog is a model without a table: the
token travels only in the action that opens it, so no record anywhere holds
it and closing the dialog is the last time anyone sees it. A new token
replaces the old one at once: the sidecar reloads its configuration when the
revision moves and refuses the old token from then on.
"""

import hashlib
import secrets

from odoo import _, fields, models

TOKEN_BYTES = 32


def token_digest(token):
    """The SHA-256 (hex) the sidecar compares a presented bearer token with."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token():
    return secrets.token_urlsafe(TOKEN_BYTES)


class ShopfloorHttpProducerToken(models.AbstractModel):
    _name = "shopfloor.http.producer.token"
    _description = "Shop Floor HTTP producer token (shown once)"

    # The form's onchange needs an id field to give the defaults back.
    id = fields.Id()
    producer_name = fields.Char(string="Producer", readonly=True)
    token = fields.Char(readonly=True, help="Copy it now: it is not shown again.")

    def _show_action(self, producer, token):
        return {
            "type": "ir.actions.act_window",
            "name": _("Token for %s", producer.name),
            "res_model": self._name,
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_token": token, "default_producer_name": producer.name},
        }
