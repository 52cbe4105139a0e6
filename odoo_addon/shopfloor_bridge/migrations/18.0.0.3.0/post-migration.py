"""18.0.0.3.0: fills each tag rule's typed parameters from the JSON it had.

The sidecar gets the same ``params`` as before. Where the JSON held what the
rule engines ignored or never accepted (null, an unknown key, a key of
another rule kind), it is left out, and the connection's chatter says so with
the JSON as it was; the old column (``legacy_params_json``) stays too.
"""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'shopfloor_mapping_rule' "
        "AND column_name = 'legacy_params_json'"
    )
    if not cr.fetchone():
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    convert(env)


def convert(env):
    """Converts every rule that still has legacy parameters; answers {rule id: what changed} for the changed."""
    env.cr.execute(
        "SELECT id, legacy_params_json FROM shopfloor_mapping_rule "
        "WHERE legacy_params_json IS NOT NULL AND legacy_params_json NOT IN ('', '{}') ORDER BY id"
    )
    changed = {}
    for rule_id, text in env.cr.fetchall():
        rule = env["shopfloor.mapping.rule"].with_context(active_test=False).browse(rule_id)
        note = rule._convert_legacy_params(text)
        if note:
            changed[rule_id] = note
            _logger.warning("tag rule %s (%s): %s; parameters were %s", rule_id, rule.address, note, text)
            rule.connection_id.message_post(
                body=env._(
                    "Upgrade to typed rule parameters, rule %(address)s: %(note)s. The parameters were: %(json)s",
                    address=rule.address,
                    note=note,
                    json=text,
                ),
                subtype_xmlid="mail.mt_note",
            )
    return changed
