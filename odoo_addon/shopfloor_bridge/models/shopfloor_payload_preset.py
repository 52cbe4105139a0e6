"""Presets of payload mappings for what plants already send (Kepware, Ignition, UNS, flat JSON).

Shipped as data (``data/shopfloor_payload_presets.xml``); choosing one on a
payload mapping copies it there, where the admin adapts it. A preset changes
no mapping after that: mappings are versioned, presets are not.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..topic_filter import pattern_error
from .shopfloor_payload_map import KINDS, PAYLOAD_FORMATS, TRANSPORTS


class ShopfloorPayloadPreset(models.Model):
    _name = "shopfloor.payload.preset"
    _description = "Payload mapping preset"
    _order = "name, id"

    code = fields.Char(required=True, help="Stable key of the preset (data files refer to it).")
    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="What sends payloads of this shape, and how to set it up.")
    kind = fields.Selection(KINDS, required=True, default="events")
    transport = fields.Selection(TRANSPORTS, required=True, default="mqtt")
    match = fields.Char(help="Suggested topic filter or route; copied only into a mapping that has none.")
    expression = fields.Text(required=True)
    id_fields = fields.Text(string="Id fields")
    payload_format = fields.Selection(PAYLOAD_FORMATS, required=True, default="json")
    sample_payload = fields.Text(help="A payload of the shape the preset reads, to try it on.")
    active = fields.Boolean(default=True)

    _sql_constraints = [("code_uniq", "unique(code)", "A preset code is unique.")]

    @api.constrains("transport", "match")
    def _check_match(self):
        for preset in self.filtered("match"):
            error = pattern_error(preset.transport, preset.match)
            if error:
                raise ValidationError(
                    _(
                        "Preset %(code)s: suggested match %(match)r: %(error)s.",
                        code=preset.code,
                        match=preset.match,
                        error=error,
                    )
                )

    def _mapping_values(self):
        """What choosing this preset copies into a payload mapping."""
        self.ensure_one()
        return {
            "kind": self.kind,
            "transport": self.transport,
            "expression": self.expression,
            "id_fields": self.id_fields,
            "payload_format": self.payload_format,
        }
