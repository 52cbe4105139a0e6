"""What ingest, apply and discard do besides storing and applying events, in the order they run.

A hook is a function ``hook(events, outcomes)``: ``events`` the
``shopfloor.event`` records concerned, ``outcomes`` ``{event_id: (status,
error)}`` (for apply, an ``ApplyOutcomes``). ``shopfloor.event`` reads these
lists through ``_post_ingest_hooks()``, ``_post_apply_hooks()`` and
``_post_discard_hooks()``; another addon adds its own hooks by extending those
methods. Each hook runs in a savepoint: one that fails is logged and never
fails an event.
"""

import logging

from . import bus_ping, cost_refresh, live_view

_logger = logging.getLogger(__name__)

# After ingest stored a batch (and applied what was new): the browsers refresh,
# the live view the tiles of the work centers concerned.
POST_INGEST = (bus_ping.events_changed, live_view.workcenters_changed)
# After a batch of events was applied (ingest, retry cron, DLQ retry): the cost
# figures of the orders it touched, then the browsers.
POST_APPLY = (cost_refresh.refresh_costs, bus_ping.events_changed, live_view.workcenters_changed)
# After dead letters were discarded: the browsers refresh.
POST_DISCARD = (bus_ping.events_changed,)


def run(hooks, events, outcomes):
    """Runs ``hooks`` in order, each in a savepoint; a failing one is logged and the events keep their outcome."""
    if not hooks:
        return
    cr = events.env.cr
    cr.flush()  # the events' own pending writes: not a hook's to fail
    for hook in hooks:
        try:
            with cr.savepoint():
                hook(events, outcomes)
        except Exception:  # noqa: BLE001 (a hook never fails an event)
            _logger.exception(
                "shopfloor_bridge: hook %s.%s failed; the events keep their outcome",
                hook.__module__,
                getattr(hook, "__qualname__", hook),
            )
