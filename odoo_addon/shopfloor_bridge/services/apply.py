"""Apply: stored events to Odoo, per work center in time order, each event as if alone.

``shopfloor.event._apply_events`` delegates here, then runs the post-apply
hooks (``services/hooks``). The loop claims the events (row locks), applies
each through ``handlers.apply_event`` (a batch's events sharing savepoints and
deferred stock work, undone and applied again one by one where that fails)
within the call's time budget and writes
the outcome: applied, pending (waits for a predecessor), failed (retried with
backoff) or dead; the classes of ``exceptions.py`` decide which.
"""

import logging
import traceback
from datetime import timedelta
from time import monotonic

from odoo import fields
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from .. import backoff
from ..exceptions import EventPending, EventRejected, PermanentError

_logger = logging.getLogger(__name__)

# A pending event (waiting for its predecessor) is retried sooner than a failed one.
PENDING_BACKOFF_CAP_SECONDS = 300
# Apply work per call (ingest, cron run, DLQ action), well under Odoo's default
# limit_time_cpu (60 s) and limit_time_real (120 s): what does not fit stays
# pending, due now, for the next call or the retry cron.
APPLY_BUDGET_PARAM = "shopfloor_bridge.ingest_apply_budget_ms"
DEFAULT_APPLY_BUDGET_MS = 10000
# Pending events of the batch's work centers that one ingest call looks at.
WAITING_LIMIT = 1000
# Event types whose handler reads other events' states: a hold release wakes the
# events waiting on it; a scrap reversal finds its scrap through the scrap's event.
# The outcomes of the events applied before one are written first.
TYPES_READING_EVENT_STATES = frozenset({"quality.released", "scrap.reversed"})
# Events read again in one query after the cache was cleared (see ``_apply_ordered``).
PREFETCH_WINDOW = 50
# Events of a batch applied under one savepoint (see ``_apply_ordered``). Larger
# groups flush less often, but what the ORM keeps un-flushed slows every later
# step: on a day of every event type, groups four times this size cost more CPU
# than one savepoint per event (tools/profile, tests/test_apply_profile.py).
GROUP_MAX = 16


class _Group:
    """Consecutive events of a batch applied under one savepoint, opened at ``start``;
    ``state`` is the batch's ProducingSync as it was then, ``members`` the outcomes
    kept once the savepoint is released."""

    def __init__(self, cr, start, state):
        self.savepoint = cr.savepoint()
        self.start = start
        self.state = state
        self.members = []


class ApplyOutcomes(dict):
    """``{event_id: (status, error)}``; ``deferred`` holds the ids the apply budget left pending."""

    def __init__(self):
        super().__init__()
        self.deferred = set()

    def applied_ids(self):
        return [event_id for event_id, (status, _error) in self.items() if status == "applied"]


class ApplyService:
    """The apply loop over ``shopfloor.event`` records of ``env``."""

    def __init__(self, env):
        self.env = env

    def apply_with_waiting(self, events):
        """Applies these new events after the events still pending on their work
        centers that may go now: left by an earlier call's apply budget or a
        deferred ingest, due for their retry, or not older than the oldest new
        event (whose predecessor may be among the new ones: a downtime end that
        came before its start). An event that waits for a predecessor older than
        everything new is left to its retry time: re-applying every waiting
        event on every call made each call slower as they piled up.
        Returns ``_apply_events``' outcomes."""
        workcenters = events.workcenter_id
        domain = [("state", "=", "pending"), ("id", "not in", events.ids)]
        may_go = [("error_class", "=", "deferred"), ("next_retry_at", "<=", fields.Datetime.now())]
        oldest_new = min((event.time for event in events if event.time), default=None)
        if oldest_new:
            may_go.append(("time", ">=", oldest_new))
        domain += ["|"] * (len(may_go) - 1) + may_go
        if any(not event.workcenter_id for event in events):
            domain += ["|", ("workcenter_id", "in", workcenters.ids), ("workcenter_id", "=", False)]
        else:
            domain += [("workcenter_id", "in", workcenters.ids)]
        waiting = events.search(domain, order="time, id", limit=WAITING_LIMIT)
        candidates = events | waiting
        if len(waiting) == WAITING_LIMIT:
            # More wait than one call looks at: nothing later than the last one looked
            # at is applied now, so no event overtakes an older one of its work center.
            last = (waiting[-1].time, waiting[-1].id)
            candidates = candidates.filtered(lambda event: (event.time or last[0], event.id) <= last)
        # Through the model's method: the post-apply hooks run for these too.
        outcomes = candidates._apply_events()
        self.defer(events - candidates, outcomes, self._deferred_message(WAITING_LIMIT, "waiting"))
        return outcomes

    def apply_budget_ms(self):
        """Milliseconds of apply work per call: context ``shopfloor_apply_budget_ms``,
        else the system parameter, else the default."""
        value = self.env.context.get("shopfloor_apply_budget_ms")
        if value is None:
            value = self.env["ir.config_parameter"].sudo().get_param(APPLY_BUDGET_PARAM, DEFAULT_APPLY_BUDGET_MS)
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            _logger.warning(
                "shopfloor_bridge: %s=%r is not a number; using %s", APPLY_BUDGET_PARAM, value, DEFAULT_APPLY_BUDGET_MS
            )
            return float(DEFAULT_APPLY_BUDGET_MS)

    def _deferred_message(self, amount, reason="budget"):
        if reason == "waiting":
            return self.env._(
                "Deferred: more than %(count)s events wait on this work center; applied in time order by the "
                "next ingest call or the retry cron.",
                count=amount,
            )
        return self.env._(
            "Deferred: this call's apply budget (%(ms)s ms, system parameter %(param)s) was spent; applied in "
            "time order by the next ingest call or the retry cron.",
            ms=int(amount),
            param=APPLY_BUDGET_PARAM,
        )

    def apply(self, events):
        """Applies each event as in its own savepoint, per work center in time order,
        within the apply budget (``apply_budget_ms``); a batch's events share
        savepoints and stock work (``_apply_ordered``, ``handlers.producing``).

        Returns ``ApplyOutcomes`` ({event_id: (status, error)}). Only events
        still pending/failed (and not locked by a concurrent run) are applied:
        the state check plus the row lock keep a retried transaction or a racing
        cron from applying an event twice. Once the budget is spent the rest
        stay pending, due now (``deferred``); the first event is always applied,
        so every call makes progress. Should the batched pass fail and the batch
        be applied again one by one, that pass gets a budget of its own.
        """
        from ..handlers.producing import DeferredSyncFailed, ProducingSync  # noqa: PLC0415

        if not events:
            return ApplyOutcomes()
        budget_ms = self.apply_budget_ms()
        events.flush_model()
        self.env.cr.execute(
            "SELECT id FROM shopfloor_event WHERE id = ANY(%s) AND state IN ('pending', 'failed') "
            "FOR UPDATE SKIP LOCKED",
            [events.ids],
        )
        claimed = events.browse([row[0] for row in self.env.cr.fetchall()])
        ordered = claimed.sorted(lambda e: (e.workcenter_id.id or 0, e.time or fields.Datetime.now(), e.id))
        if len(ordered) > 1:
            # Batched: Odoo's stock cascade of production reports runs once per MO
            # (ProducingSync). Should it fail, nothing of the batched pass stays:
            # the whole batch is applied again one event at a time, so every
            # report ends applied with its effect, or failed with its error.
            try:
                with self.env.cr.savepoint():
                    return self._apply_ordered(ordered, ProducingSync(self.env), budget_ms)
            except DeferredSyncFailed as failure:
                if isinstance(failure.error, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    raise failure.error from failure  # see _apply_ordered: the whole call is retried
                _logger.warning(
                    "shopfloor_bridge: %s; applying the batch of %s events one by one", failure, len(ordered)
                )
        return self._apply_ordered(ordered, None, budget_ms)

    def _apply_ordered(self, ordered, producing_sync, budget_ms):
        """The apply loop of ``apply``; ``producing_sync`` None applies every event completely,
        each in its own savepoint.

        Batched (``producing_sync`` given), consecutive events share one savepoint
        (``_Group``, up to ``GROUP_MAX``): the ORM then flushes their writes and
        recomputes once per group instead of once per event. An event that does
        not apply (it waits, is refused, raises) undoes its group: the events
        before it apply again as a group, then it alone in its own savepoint,
        exactly as it would one by one. A group that fails when its writes are
        flushed applies again event by event. After an undone group the next
        groups start small and grow again, so a run of failing events costs
        little more than one savepoint each."""
        now = fields.Datetime.now()
        deadline = monotonic() + budget_ms / 1000.0
        # Each event with the ones after it as its prefetch set: once the cache is cleared (a
        # savepoint rolled back, or an unlink, after which Odoo clears the whole cache), the
        # next event read brings back PREFETCH_WINDOW events in one query, not one each.
        events = [
            ordered[index].with_prefetch(ordered._ids[index : index + PREFETCH_WINDOW]) for index in range(len(ordered))
        ]
        outcomes = ApplyOutcomes()
        logs = []
        lookups = {}
        # Each event's outcome (state, result, error) is written when the loop ends, in
        # one UPDATE per set of fields (``shopfloor.event._write_rows``) instead of a
        # write per event that each savepoint would flush. Nothing in between reads them,
        # except a hold release (TYPES_READING_EVENT_STATES): they are written before it.
        outcome_writes = []

        def keep(event, values, action):
            outcome_writes.append((event, values))
            status = values["state"] if values["state"] != "dead" else "failed"
            outcomes[event.id] = (status, values.get("error_message") or "")
            logs.append(
                {
                    "event_id": event.id,
                    "action": action,
                    "state": values["state"],
                    "note": values.get("error_message") or "",
                }
            )

        alone = set()  # ids of the events to apply in a savepoint of their own
        group = None
        group_limit = GROUP_MAX
        position = 0
        while True:
            if group is not None and (
                position == len(ordered)
                or len(group.members) >= group_limit
                or events[position].id in alone
                or events[position].type in TYPES_READING_EVENT_STATES
                or monotonic() >= deadline
            ):
                producing_sync.in_group = False
                if self._close_group(group, producing_sync, lookups):
                    for member in group.members:
                        keep(*member)
                    group_limit = min(GROUP_MAX, group_limit * 2)
                else:
                    alone.update(event.id for event, _values, _action in group.members)
                    position = group.start
                group = None
            if position == len(ordered):
                break
            if outcomes and monotonic() >= deadline:
                self.defer(ordered[position:], outcomes, self._deferred_message(budget_ms))
                break
            event = events[position]
            if producing_sync is None or event.id in alone or event.type in TYPES_READING_EVENT_STATES:
                if event.type in TYPES_READING_EVENT_STATES:
                    self._write_outcomes(outcome_writes, producing_sync)
                keep(*self._step(event, producing_sync, lookups, now, own_savepoint=True))
                position += 1
                continue
            if group is None:
                group = _Group(self.env.cr, position, producing_sync.checkpoint())
                producing_sync.in_group = True
            step = self._step(event, producing_sync, lookups, now, own_savepoint=False)
            if step is None:
                # It did not apply: undo the group, then the ones before it again, then it alone.
                producing_sync.in_group = False
                self._undo_group(group, producing_sync, lookups)
                alone.add(event.id)
                position = group.start
                group = None
                group_limit = max(1, group_limit // 4)
                continue
            group.members.append(step)
            position += 1
        if producing_sync is not None:
            producing_sync.flush()
        self._write_outcomes(outcome_writes, producing_sync)
        self.env["shopfloor.event.log"]._create_rows(logs)  # one INSERT for the batch's history
        return outcomes

    def _step(self, event, producing_sync, lookups, now, own_savepoint):
        """Applies one event of the loop; returns (event, values to write, log action), or
        None when, without a savepoint of its own, it did not apply (the caller undoes the group)."""
        from ..handlers import apply_event  # noqa: PLC0415 (handlers import models at load time)
        from ..handlers.producing import DeferredSyncFailed  # noqa: PLC0415
        from ..handlers.resolve import HOLDS_ACTIVE  # noqa: PLC0415

        if producing_sync is not None:
            producing_sync.before(event)
        if not event.connection_id and event.connection_code:
            # The connection may have been created since the event arrived.
            event.connection_id = self.env["shopfloor.connection"].search(
                [("code", "=", event.connection_code), ("company_id", "=", event.company_id.id)], limit=1
            )
        attempts = event.attempts + 1
        if own_savepoint:
            values, action = self._apply_one(event, producing_sync, lookups, attempts, now)
            if producing_sync is not None and values["state"] != "applied":
                producing_sync.event_failed()
        else:
            revision = event.connection_id.revision
            if not event.connection_id:
                return None
            # The undo record is written with the outcome (one write of the event, not two);
            # should the group be undone, it goes with the step.
            undo = {}
            try:
                records = apply_event(
                    event.with_company(event.company_id), producing_sync=producing_sync, lookups=lookups, undo=undo
                )
            except (DeferredSyncFailed, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                raise  # see _apply_one
            except Exception:  # noqa: BLE001 (applied again alone, where its error is kept)
                return None
            values, action = {**self._applied_values(event, records, revision, now), **undo}, "apply"
        if "shopfloor.hold," in (values.get("result_refs") or ""):
            # It raised or released a hold (an event that did not apply changed nothing: its
            # savepoint, or the group's undo, took it back); a passing check keeps the answer.
            lookups.pop(HOLDS_ACTIVE, None)
        values["attempts"] = attempts
        return event, values, action

    def _close_group(self, group, producing_sync, lookups):
        """Flushes and releases the group's savepoint; False when that failed (then undone)."""
        try:
            group.savepoint.close(rollback=False)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise
        except Exception as error:  # noqa: BLE001 (the events apply again one by one, keeping their errors)
            _logger.info("shopfloor_bridge: a group of %s events failed at flush: %s", len(group.members), error)
            self._restore(group, producing_sync, lookups)
            return False
        return True

    def _undo_group(self, group, producing_sync, lookups):
        group.savepoint.close(rollback=True)
        self._restore(group, producing_sync, lookups)

    @staticmethod
    def _restore(group, producing_sync, lookups):
        from ..handlers.resolve import HOLDS_ACTIVE  # noqa: PLC0415

        producing_sync.restore(group.state)
        lookups.pop(HOLDS_ACTIVE, None)  # a hold raised or released in the group is undone too

    def _apply_one(self, event, producing_sync, lookups, attempts, now):
        """Applies one event in its own savepoint; returns its outcome (values to write, log action)."""
        from ..handlers import apply_event  # noqa: PLC0415 (handlers import models at load time)
        from ..handlers.producing import DeferredSyncFailed  # noqa: PLC0415

        revision = event.connection_id.revision
        try:
            if not event.connection_id:
                raise PermanentError(
                    self.env._(
                        "Unknown connection %(code)r for company %(company)s: create it under Shop Floor → "
                        "Configuration → Connections (or fix the sidecar's SHOPFLOOR_CONNECTION), then retry.",
                        code=event.connection_code or "",
                        company=event.company_id.name,
                    )
                )
            with self.env.cr.savepoint():
                records = apply_event(
                    event.with_company(event.company_id), producing_sync=producing_sync, lookups=lookups
                )
        except EventRejected as error:
            values, action = self._failure_values(event, error, "rejected"), "reject"
        except EventPending as error:
            values, action = self._pending_values(event, error, attempts, now)
        except PermanentError as error:
            values, action = self._failure_values(event, error, "dead"), "dead"
        except DeferredSyncFailed:
            raise  # the batch's deferred work, validated inside this event: the batch goes one by one
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # Another transaction books the same rows (a stock quant): Odoo re-runs the
            # whole call on a fresh snapshot (the RPC's retry, else the cron's next run).
            # Failing this event instead would let later events of its order overtake it.
            raise
        except Exception as error:  # noqa: BLE001 (any other error is transient: retried, then dead)
            values, action = self._transient_failure_values(event, error, attempts, now)
        else:
            values, action = self._applied_values(event, records, revision, now), "apply"
        return values, action

    @staticmethod
    def _write_outcomes(outcome_writes, producing_sync=None):
        """Write the kept ``(event, values)`` outcomes (one UPDATE per set of fields, ``_write_rows``) and forget them.

        A scrap the batch made later than its event (``ProducingSync.defer_scrap``) heads
        that event's result, as when the event made it itself."""
        if producing_sync is not None:
            producing_sync.validate_scraps()
        for event, values in outcome_writes:
            scrap = producing_sync.made_scraps.pop(event.id, None) if producing_sync is not None else None
            if scrap and values["state"] == "applied":
                values["result_refs"] = "\n".join(filter(None, [f"{scrap._name},{scrap.id}", values["result_refs"]]))
        if outcome_writes:
            outcome_writes[0][0].env["shopfloor.event"]._write_rows(outcome_writes)
        outcome_writes.clear()

    def _transient_failure_values(self, event, error, attempts, now):
        """An unexpected error: retried with backoff until the connection's max_attempts, then dead."""
        max_attempts = event.connection_id.max_attempts or 5
        if attempts >= max_attempts:
            values = self._failure_values(event, error, "dead")
            values["error_message"] = self.env._(
                "Gave up after %(n)s attempts. Last error: %(error)s", n=attempts, error=values["error_message"]
            )
            return values, "dead"
        values = self._failure_values(event, error, "failed")
        values["next_retry_at"] = backoff.next_retry_at(now, attempts)
        return values, "fail"

    def defer(self, events, outcomes, message):
        """Left for later: these events stay as they are, due now; the ones never
        tried say why they still wait (a waiting or failed event keeps its reason)."""
        if not events:
            return
        events.filtered(lambda event: event.state == "pending" and not event.attempts).write(
            {"error_class": "deferred", "error_message": message, "next_retry_at": fields.Datetime.now()}
        )
        for event in events:
            outcomes[event.id] = ("pending", message)
        outcomes.deferred.update(events.ids)
        events._trigger_retry_cron()

    def _applied_values(self, event, records, revision, now):
        records = [r for r in (records or []) if r]
        refs = []
        production = event.production_id
        workorder = event.workorder_id
        for record in records:
            for one in record:
                refs.append(f"{one._name},{one.id}")
                if one._name == "mrp.workorder" and not workorder:
                    workorder = one
                if one._name == "mrp.production" and not production:
                    production = one
                if not workorder and "workorder_id" in one._fields and one.workorder_id:
                    workorder = one.workorder_id
                if not production and "production_id" in one._fields and one.production_id:
                    production = one.production_id
        if workorder and not production:
            production = workorder.production_id
        return {
            "state": "applied",
            "applied_time": now,
            "result_refs": "\n".join(refs),
            "mapping_revision": revision,
            "production_id": production.id or False,
            "workorder_id": workorder.id or False,
            "error_class": False,
            "error_message": False,
            "error_traceback": False,
            "next_retry_at": False,
            "pending_since": False,
        }

    @staticmethod
    def _failure_values(event, error, state):
        return {
            "state": state,
            "error_class": getattr(error, "error_class", None) or type(error).__name__,
            "error_message": getattr(error, "message", None) or str(error) or type(error).__name__,
            "error_traceback": "".join(traceback.format_exception(error)),
            "next_retry_at": False,
        }

    def _pending_values(self, event, error, attempts, now):
        """Waiting for a prerequisite: retried soon, until the connection's bound passes."""
        since = event.pending_since or now
        timeout = timedelta(minutes=event.connection_id.pending_timeout_minutes or 60)
        if now - since > timeout:
            # Past the bound: visible as failed; still waiting on the next try → dead.
            state = "dead" if event.state == "failed" else "failed"
            values = self._failure_values(event, error, state)
            values["error_message"] = self.env._(
                "Still waiting after %(minutes)s minutes: %(error)s",
                minutes=int((now - since).total_seconds() // 60),
                error=values["error_message"],
            )
            if state == "failed":
                values["next_retry_at"] = backoff.next_retry_at(now, attempts, cap=PENDING_BACKOFF_CAP_SECONDS)
            return values, ("dead" if state == "dead" else "fail")
        values = self._failure_values(event, error, "pending")
        values["pending_since"] = since
        values["next_retry_at"] = backoff.next_retry_at(now, attempts, cap=PENDING_BACKOFF_CAP_SECONDS)
        return values, "pending"
