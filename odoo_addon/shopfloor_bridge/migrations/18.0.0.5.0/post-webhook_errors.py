"""18.0.0.5.0: webhook URLs taken out of what earlier failures wrote.

Before 18.0.0.5.0 a failed webhook post wrote the request's error as it came,
and it names the URL, whose path is the webhook's secret: on the delivery
(``last_error``) and in the alert's chatter, which non-managers read. Both are
redacted with the URLs that alert's deliveries were posted to. (Odoo's log
file, which had the same line, is outside the database: rotate it.)
"""

import logging
from collections import defaultdict

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    errors, notes = redact(api.Environment(cr, SUPERUSER_ID, {}))
    if errors or notes:
        _logger.info("webhook URLs removed from %s delivery errors and %s chatter messages", errors, notes)


def redact(env):
    """Redacts every stored delivery error and alert chatter message; answers (errors, messages) changed."""
    # Imported here: the module's code is loaded by the time post-migration scripts run.
    from odoo.addons.shopfloor_bridge.alerting import redact_webhook_url

    cr = env.cr
    env.flush_all()
    cr.execute("SELECT id, alert_id, url, last_error FROM shopfloor_alert_delivery WHERE url IS NOT NULL")
    urls = defaultdict(set)
    errors = 0
    for delivery_id, alert_id, url, error in cr.fetchall():
        urls[alert_id].add(url)
        clean = redact_webhook_url(error, url) if error else error
        if clean != error:
            cr.execute("UPDATE shopfloor_alert_delivery SET last_error = %s WHERE id = %s", [clean, delivery_id])
            errors += 1
    messages = 0
    if urls:
        cr.execute(
            "SELECT id, res_id, body FROM mail_message WHERE model = 'shopfloor.alert' AND res_id = ANY(%s)",
            [list(urls)],
        )
        for message_id, alert_id, body in cr.fetchall():
            clean = body or ""
            for url in sorted(urls[alert_id], key=len, reverse=True):
                clean = redact_webhook_url(clean, url)
            if clean != (body or ""):
                cr.execute("UPDATE mail_message SET body = %s WHERE id = %s", [clean, message_id])
                messages += 1
    env.invalidate_all()
    return errors, messages
