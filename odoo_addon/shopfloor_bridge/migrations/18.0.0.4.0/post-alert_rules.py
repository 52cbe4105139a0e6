"""18.0.0.4.0: every connection gets the default alert rules.

The dead-letter threshold of 18.0.0.3.0 (``dlq_threshold``, one activity to
a manager) becomes the connection's "Dead letters over N" rule with the same
N; a threshold of 0 (off) becomes that rule, archived. The old column stays.
"""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    convert(api.Environment(cr, SUPERUSER_ID, {}))


def convert(env):
    """Creates the default rules of each connection that has none; answers {connection id: dlq N or None}."""
    cr = env.cr
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'shopfloor_connection' "
        "AND column_name = 'dlq_threshold'"
    )
    thresholds = {}
    if cr.fetchone():
        cr.execute("SELECT id, dlq_threshold FROM shopfloor_connection")
        thresholds = dict(cr.fetchall())
    # Imported here: the module's code is loaded by the time post-migration scripts run.
    from odoo.addons.shopfloor_bridge.alerting import default_rules

    rules = env["shopfloor.alert.rule"].with_context(active_test=False)
    connections = env["shopfloor.connection"].with_context(active_test=False).search([])
    done = {}
    for connection in connections:
        if rules.search_count([("connection_id", "=", connection.id)]):
            continue
        old = thresholds.get(connection.id)
        values = []
        for rule in default_rules():
            if rule["kind"] == "dlq_count" and old is not None:
                rule = dict(rule, threshold=max(0, old), active=bool(old))
            values.append(dict(rule, connection_id=connection.id))
        rules.create(values)
        done[connection.id] = old
    _logger.info("shopfloor_bridge: default alert rules created for %s connections", len(done))
    return done
