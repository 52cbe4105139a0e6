"""Reverse applied events: their effects undone by operations Odoo's own flows accept.

Nothing of the stock history is deleted: a scrap comes back by a move from the
scrap location, a closed order by Odoo's unbuild order, consumed and produced
quantities are lowered on the open moves and Odoo's producing cascade runs
again. Time logs are not stock history: a log an event opened is removed, a
log it closed is open again (its overtime split undone). Holds are released
(or active again), maintenance requests archived, quality results removed.

What ``result_refs`` cannot tell (a work order's previous state and dates, a
raw move's flags, a log's loss before its split) the handlers recorded at
apply time in the event's ``undo_json`` (``handlers/undo.py``); it is undone
last change first.

Order: a selection is reversed newest first (time, then id). An event that a
later applied event outside the selection depends on — the same manufacturing
order, a record of its result, or a time log it opened and the later one
closed — is refused, naming that event: select it too. Reversal
does not cascade on its own, so a person sees every event it takes back.

Refusals (``ReversalRefused``, shown as the error of the whole action, which
then changes nothing) say what to do instead.
"""

import json

from odoo import _, fields
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero

from ..handlers.moves import compact_move_lines
from ..handlers.producing import synchronise_moves

# Types whose reversal needs the handler's undo record (events applied before
# it existed are refused instead of guessed at).
TYPES_NEEDING_UNDO = frozenset(
    {
        "workorder.started",
        "workorder.paused",
        "workorder.resumed",
        "workorder.completed",
        "production.reported",
        "material.consumed",
        "downtime.started",
        "downtime.ended",
        "setup.started",
        "setup.ended",
        "teardown.started",
        "teardown.ended",
        "production.corrected",
    }
)
# Floor compensations whose own reversal would be a compensation of a
# compensation: refused, the message naming the floor event that undoes them.
COMPENSATIONS_SENT_BACK = {
    "scrap.reversed": "a scrap.reported of the quantity it returned",
    "consumption.reversed": "a material.consumed of the quantity it gave back",
}
# Every type whose effects this service knows how to undo. A type added later
# (a new handler) is refused until its reversal is written here, never marked
# reversed with its effects left in place.
REVERSIBLE_TYPES = TYPES_NEEDING_UNDO | {
    "scrap.reported",
    "quality.result",
    "quality.hold",
    "quality.released",
}
Productivity = "mrp.workcenter.productivity"


class ReversalRefused(UserError):
    """Odoo cannot undo this event's effects; the message says what to do instead."""


class ReverseService:
    def __init__(self, env):
        self.env = env

    # ------------------------------------------------------------------ entry point

    def reverse(self, events, reason):
        """Reverses ``events`` (sudo records) newest first; returns the orders touched."""
        not_applied = events.filtered(lambda event: event.state != "applied")
        if not_applied:
            raise ReversalRefused(
                _(
                    "Only applied events can be reversed: %(uid)s is %(state)s.",
                    uid=not_applied[0].event_uid,
                    state=dict(not_applied._fields["state"]._description_selection(self.env))[not_applied[0].state],
                )
            )
        # What is never reversed is refused before what would be reversed in another order.
        for event in events.filtered(lambda event: event.type in COMPENSATIONS_SENT_BACK)[:1]:
            EventReversal.refuse_compensation(event)
        self._check_dependents(events)
        touched = self.env["mrp.production"]
        for event in events.sorted(lambda e: (e.time, e.id), reverse=True):
            try:
                with self.env.cr.savepoint():
                    done = EventReversal(self.env, event).run()
            except ReversalRefused as refusal:
                raise ReversalRefused(
                    _(
                        "Event %(uid)s (%(type)s) cannot be reversed: %(why)s",
                        uid=event.event_uid,
                        type=event.type,
                        why=refusal.args[0],
                    )
                ) from refusal
            productions = done.productions
            note = _("%(reason)s — %(what)s", reason=reason, what="; ".join(done.steps) or _("nothing to undo"))
            event._log("reverse", note)
            event.write({"state": "reversed", "next_retry_at": False})
            for production in productions:
                production.message_post(
                    body=_(
                        "Shop floor event %(uid)s (%(type)s at %(time)s) reversed by %(user)s: %(note)s",
                        uid=event.event_uid,
                        type=event.type,
                        time=event.time,
                        user=self.env.user.name,
                        note=note,
                    )
                )
            touched |= productions
        self._refresh_costs(touched)
        self.env["shopfloor.dashboard"]._ping_events_changed()
        return touched

    def _refresh_costs(self, productions):
        variance = self.env["shopfloor.cost.variance"].sudo()
        if productions and variance._is_realtime_enabled():
            variance._refresh_for_productions(productions)

    # ------------------------------------------------------------------ order

    def _check_dependents(self, events):
        """Refuse when a later applied event outside the selection depends on one of ``events``."""
        Event = self.env["shopfloor.event"].sudo()
        for event in events:
            links = []
            if event.production_id:
                links.append([("production_id", "=", event.production_id.id)])
            refs = set(_refs(event))
            domain = [("state", "=", "applied"), ("id", "not in", events.ids), ("time", ">=", event.time)]
            later = Event.search(domain + _any_of(links)) if links else Event
            if refs:
                candidates = Event.search(domain + [("result_refs", "!=", False)])
                later |= candidates.filtered(lambda other, r=refs: r & set(_refs(other)))
            closers = (
                self.env[Productivity]
                .search([("shopfloor_event_id", "=", event.id), ("shopfloor_close_event_id", "not in", events.ids)])
                .shopfloor_close_event_id.filtered(lambda other, e=event: other.state == "applied" and other != e)
            )
            later |= closers
            later = later.filtered(lambda other, e=event: (other.time, other.id) > (e.time, e.id))
            if later:
                first = later.sorted(lambda other: (other.time, other.id))[0]
                raise ReversalRefused(
                    _(
                        "Event %(uid)s (%(type)s at %(time)s) cannot be reversed alone: the later applied event "
                        "%(other)s (%(other_type)s at %(other_time)s) acts on the same order, work center or "
                        "records. Select it too (a selection is reversed newest first), or reverse it first.",
                        uid=event.event_uid,
                        type=event.type,
                        time=event.time,
                        other=first.event_uid,
                        other_type=first.type,
                        other_time=first.time,
                    )
                )


def _any_of(domains):
    if len(domains) == 1:
        return domains[0]
    return ["|"] * (len(domains) - 1) + [term for domain in domains for term in domain]


def _refs(event):
    """The (model, id) pairs of the event's result."""
    pairs = []
    for line in (event.result_refs or "").splitlines():
        model, _sep, record_id = line.partition(",")
        if model and record_id.isdigit():
            pairs.append((model, int(record_id)))
    return pairs


def returned_moves(scrap):
    """The done moves that brought ``scrap`` back to stock (its reversal), if any."""
    return scrap.move_ids.returned_move_ids.filtered(lambda move: move.state == "done")


def _settle_state(production):
    """An order with nothing started, produced or picked any more is confirmed again.

    Odoo's ``_compute_state`` only moves an order forward (no branch leads back
    from ``progress``), so the order a reversal empties is set back explicitly."""
    if production.state != "progress":
        return
    rounding = production.product_uom_id.rounding
    if (
        any(state in ("progress", "done") for state in production.workorder_ids.mapped("state"))
        or not float_is_zero(production.qty_producing, precision_rounding=rounding)
        or any(production.move_raw_ids.mapped("picked"))
    ):
        return
    production.state = "confirmed"


class EventReversal:
    """The reversal of one applied event; ``steps`` says what it did, for the history and the chatter."""

    def __init__(self, env, event):
        self.event = event
        self.env = event.sudo().with_company(event.company_id).env
        self.steps = []
        self.productions = env["mrp.production"]
        self.undo = self._undo_records()

    @staticmethod
    def refuse_compensation(event):
        raise ReversalRefused(
            _(
                "Event %(uid)s: a %(type)s is itself a floor correction: it is not reversed here. Send the floor "
                "event that undoes it instead, %(remedy)s.",
                uid=event.event_uid,
                type=event.type,
                remedy=COMPENSATIONS_SENT_BACK[event.type],
            )
        )

    def _undo_records(self):
        event = self.event
        if event.type in COMPENSATIONS_SENT_BACK:
            self.refuse_compensation(event)
        if event.type not in REVERSIBLE_TYPES:
            raise ReversalRefused(
                _(
                    "no reversal is known for events of type %(type)s. Correct its effects by hand, or with a "
                    "compensating floor event.",
                    type=event.type,
                )
            )
        if not event.undo_json:
            if event.type in TYPES_NEEDING_UNDO:
                raise ReversalRefused(
                    _(
                        "it was applied before reversal records were kept, so what it changed cannot be told "
                        "exactly. Correct the order by hand (time logs, quantities) instead."
                    )
                )
            return []
        try:
            records = json.loads(event.undo_json)
        except ValueError as error:
            raise ReversalRefused(_("its undo record is not valid JSON (%s).", error)) from error
        return records if isinstance(records, list) else []

    def _records(self, model):
        ids = [record_id for name, record_id in _refs(self.event) if name == model]
        return self.env[model].browse(ids).exists()

    def run(self):
        event = self.event
        self.productions |= event.production_id | event.workorder_id.production_id
        closed_order = [record for record in self.undo if record["kind"] == "production_done"]
        if closed_order:
            self._unbuild(self.env["mrp.production"].browse(closed_order[0]["production"]))
            return self
        self._remove_opened_logs()
        for record in reversed(self.undo):
            getattr(self, f"_undo_{record['kind']}")(record)
        self._undo_results()
        for production in self.productions:
            _settle_state(production)
        return self

    # ------------------------------------------------------------------ time logs

    def _remove_opened_logs(self):
        logs = self.env[Productivity].search([("shopfloor_event_id", "=", self.event.id)])
        if logs:
            self.steps.append(_("%s time log(s) it opened removed", len(logs)))
            logs.unlink()

    def _undo_closed_log(self, record):
        log = self.env[Productivity].browse(record["log"]).exists()
        if not log or log.shopfloor_close_event_id != self.event:
            return
        open_now = self.env[Productivity].search(
            [
                ("date_end", "=", False),
                ("workorder_id", "=", log.workorder_id.id),
                ("workcenter_id", "=", log.workcenter_id.id),
                ("user_id", "=", log.user_id.id),
                ("id", "!=", log.id),
            ]
            if log.workorder_id
            else [("id", "=", 0)]
        )
        if open_now:
            raise ReversalRefused(
                _(
                    "reopening the time log of %(wo)s would make a second open log for %(user)s (log %(other)s, "
                    "opened %(start)s). Close or reverse that one first.",
                    wo=log.workorder_id.display_name,
                    user=log.user_id.name,
                    other=open_now[0].id,
                    start=open_now[0].date_start,
                )
            )
        log.write(
            {
                "date_end": False,
                "loss_id": record["loss"],
                "description": record.get("description") or False,
                "shopfloor_close_event_id": False,
            }
        )
        self.productions |= log.workorder_id.production_id
        self.steps.append(_("time log %(id)s on %(wc)s open again", id=log.id, wc=log.workcenter_id.name))

    def _undo_split_log(self, record):
        log = self.env[Productivity].browse(record["log"]).exists()
        if log:
            log.unlink()

    # ------------------------------------------------------------------ records as they were

    def _undo_record(self, record):
        target = self.env[record["model"]].browse(record["id"]).exists()
        if not target:
            return
        values = dict(record["values"])
        context = {"bypass_duration_calculation": True, "force_date": True}
        target.with_context(**context).write(values)
        if target._name == "mrp.production":
            self.productions |= target
        elif target._name == "mrp.workorder":
            self.productions |= target.production_id
        self.steps.append(
            _("%(record)s restored (%(fields)s)", record=target.display_name, fields=", ".join(sorted(values)))
        )

    def _undo_created(self, record):
        target = self.env[record["model"]].browse(record["id"]).exists()
        if target:
            target.unlink()

    # ------------------------------------------------------------------ quantities

    def _undo_producing(self, record):
        production = self.env["mrp.production"].browse(record["production"])
        self._set_producing(production, record["previous"])

    def _undo_producing_added(self, record):
        production = self.env["mrp.production"].browse(record["production"])
        rounding = production.product_uom_id.rounding
        if float_compare(production.qty_producing, record["qty"], precision_rounding=rounding) < 0:
            raise ReversalRefused(
                _(
                    "%(mo)s is producing %(now)s, less than the %(qty)s this report added (changed in Odoo since). "
                    "Book a correction on the order instead.",
                    mo=production.name,
                    now=production.qty_producing,
                    qty=record["qty"],
                )
            )
        self._set_producing(production, production.qty_producing - record["qty"])

    def _set_producing(self, production, qty):
        """The MO's producing quantity back to ``qty``, its open moves through Odoo's cascade again."""
        if production.state in ("done", "cancel"):
            raise ReversalRefused(
                _(
                    "%(mo)s is %(state)s: its quantities cannot change any more.",
                    mo=production.name,
                    state=production.state,
                )
            )
        before = production.qty_producing
        production.qty_producing = qty
        synchronise_moves(production)
        if float_is_zero(
            production.qty_producing - production.qty_produced, precision_rounding=production.product_uom_id.rounding
        ):
            # Nothing produced any more: the components are not picked and their stock is
            # reserved again, as before the first report.
            moves = production.move_raw_ids.filtered(
                lambda move: move.state not in ("done", "cancel") and not (move.manual_consumption and move.picked)
            )
            moves.picked = False
            moves._do_unreserve()
            moves._action_assign()
        self.productions |= production
        self.steps.append(_("%(mo)s producing %(before)s → %(after)s", mo=production.name, before=before, after=qty))

    def _undo_unpicked_moves(self, record):
        moves = (
            self.env["stock.move"]
            .browse(record["moves"])
            .exists()
            .filtered(lambda move: move.state not in ("done", "cancel"))
        )
        moves.picked = False

    def _undo_floor_scrap(self, record):
        workorder = self.env["mrp.workorder"].browse(record["workorder"]).exists()
        if workorder:
            workorder.shopfloor_qty_scrap = max(workorder.shopfloor_qty_scrap - record["qty"], 0.0)
            self.steps.append(_("floor scrap of %(wo)s −%(qty)s", wo=workorder.display_name, qty=record["qty"]))

    def _undo_consumed(self, record):
        move = self.env["stock.move"].browse(record["move"]).exists()
        if not move or move.state in ("done", "cancel"):
            raise ReversalRefused(
                _(
                    "the component move it booked is %s: a consumption on a closed order is undone by a return "
                    "of components, not here.",
                    move.state if move else _("gone"),
                )
            )
        qty = record["qty"]
        production = move.raw_material_production_id
        if record.get("lot"):
            line = move.move_line_ids.filtered(lambda ml: ml.lot_id.name == record["lot"])[:1]
            if not line:
                raise ReversalRefused(_("lot %s is no longer booked on the component move.", record["lot"]))
            remaining = line.quantity - move.product_uom._compute_quantity(qty, line.product_uom_id)
            if float_is_zero(remaining, precision_rounding=line.product_uom_id.rounding) or remaining < 0:
                line.unlink()
            else:
                line.quantity = remaining
        elif record["picked"] and record["manual"]:
            move._set_quantity_done(max(move.quantity - qty, 0.0))
            compact_move_lines(move)
        move.write({"picked": record["picked"], "manual_consumption": record["manual"]})
        if not (record["picked"] and record["manual"]):
            # The move was Odoo's to compute: its cascade (or its reservation) decides again.
            if float_is_zero(
                production.qty_producing - production.qty_produced,
                precision_rounding=production.product_uom_id.rounding,
            ):
                move.move_line_ids.unlink()
                move._action_assign()
            else:
                synchronise_moves(production)
        self.productions |= production
        self.steps.append(
            _("consumption of %(qty)s %(product)s taken back", qty=qty, product=move.product_id.display_name)
        )

    # ------------------------------------------------------------------ records the event made

    def _undo_results(self):
        for scrap in self._records("stock.scrap"):
            self._return_scrap(scrap)
        holds = self.env["shopfloor.hold"]
        raised = holds.search([("hold_event_id", "=", self.event.id), ("state", "=", "active")])
        if raised:
            raised.write({"state": "released", "date_release": fields.Datetime.now(), "released_by_id": self.env.uid})
            self.steps.append(_("hold(s) %s released", ", ".join(raised.mapped("name"))))
        for hold in holds.search([("release_event_id", "=", self.event.id), ("state", "=", "released")]):
            self._reactivate(hold)
        results = self._records("shopfloor.quality.result")
        if results:
            self.productions |= results.production_id
            self.steps.append(_("quality result(s) %s removed", ", ".join(results.mapped("characteristic"))))
            results.unlink()
        requests = self._records("maintenance.request").filtered(lambda request: not request.archive)
        if requests:
            requests.write({"archive": True})
            requests.message_post(body=_("Archived: shop floor event %s was reversed.", self.event.event_uid))
            self.steps.append(_("maintenance request(s) %s archived", ", ".join(requests.mapped("name"))))

    def _reactivate(self, hold):
        if hold.hold_ref and self.env["shopfloor.hold"]._active_floor_hold(hold.connection_id, hold.hold_ref):
            raise ReversalRefused(
                _(
                    "floor hold %(ref)s is active again on another target: two active holds cannot share an id. "
                    "Release that one first.",
                    ref=hold.hold_ref,
                )
            )
        hold.write({"state": "active", "date_release": False, "released_by_id": False, "release_event_id": False})
        self.productions |= hold.production_id
        self.steps.append(_("hold %s active again", hold.name))

    def _return_scrap(self, scrap):
        if returned_moves(scrap):
            return
        if scrap.state != "done":
            raise ReversalRefused(_("scrap %s is not done: cancel it in Odoo instead.", scrap.name))
        source, back_to = scrap.scrap_location_id, scrap.location_id
        if not back_to.active or back_to.usage != "internal" or not scrap.product_id.active:
            raise ReversalRefused(
                _(
                    "scrap %(scrap)s cannot come back: its location %(location)s or product %(product)s is archived "
                    "or not a stock location. Book the quantity with an inventory adjustment instead.",
                    scrap=scrap.name,
                    location=back_to.display_name,
                    product=scrap.product_id.display_name,
                )
            )
        line_values = {
            "product_id": scrap.product_id.id,
            "product_uom_id": scrap.product_uom_id.id,
            "quantity": scrap.scrap_qty,
            "location_id": source.id,
            "location_dest_id": back_to.id,
            "lot_id": scrap.lot_id.id or False,
            "package_id": False,
            "result_package_id": scrap.package_id.id or False,
            "owner_id": scrap.owner_id.id or False,
            "company_id": scrap.company_id.id,
            "picked": True,
        }
        move = self.env["stock.move"].create(
            {
                "name": _("Return of %s (shop floor event reversed)", scrap.name),
                "origin": scrap.name,
                "product_id": scrap.product_id.id,
                "product_uom": scrap.product_uom_id.id,
                "product_uom_qty": scrap.scrap_qty,
                "location_id": source.id,
                "location_dest_id": back_to.id,
                "company_id": scrap.company_id.id,
                "picked": True,
                # Odoo's own link of a return to what it returns: valued as the scrap was.
                "origin_returned_move_id": scrap.move_ids.filtered(lambda m: m.state == "done")[:1].id,
                "move_line_ids": [(0, 0, line_values)],
            }
        )
        move._action_confirm()
        move._action_done()
        if move.state != "done":
            raise ReversalRefused(
                _(
                    "the return of scrap %s was not done by Odoo; book it with an inventory adjustment instead.",
                    scrap.name,
                )
            )
        move.date = self.event.time.replace(microsecond=0)
        move.move_line_ids.date = move.date
        self.productions |= scrap.production_id
        self.steps.append(
            _(
                "scrap %(scrap)s returned to %(location)s (%(move)s)",
                scrap=scrap.name,
                location=back_to.display_name,
                move=move.reference or move.name,
            )
        )

    # ------------------------------------------------------------------ closed orders

    def _unbuild(self, production):
        """A completion that closed its order: Odoo's unbuild takes the finished goods back apart."""
        production = production.exists()
        if not production or production.state != "done":
            raise ReversalRefused(_("the order it closed is no longer done."))
        qty = production.qty_produced
        product = production.product_id
        location = production.location_dest_id
        lots = production.lot_producing_id
        available = self.env["stock.quant"]._get_available_quantity(product, location, lot_id=lots or None)
        if float_compare(available, qty, precision_rounding=production.product_uom_id.rounding) < 0:
            shipped = self.env["stock.move.line"].search(
                [
                    ("product_id", "=", product.id),
                    ("state", "=", "done"),
                    ("location_id", "child_of", location.id),
                    ("location_dest_id.usage", "in", ("customer", "supplier", "transit")),
                ]
                + ([("lot_id", "in", lots.ids)] if lots else []),
                limit=1,
            )
            left = _(" (e.g. %s)", shipped.reference) if shipped else ""
            raise ReversalRefused(
                _(
                    "%(mo)s is done and only %(available)s of its %(qty)s %(product)s are still in %(location)s: "
                    "the rest has left stock%(left)s. Return the goods first (a return of the delivery), then "
                    "reverse; or book a correction on a new order instead.",
                    mo=production.name,
                    available=available,
                    qty=qty,
                    product=product.display_name,
                    location=location.display_name,
                    left=left,
                )
            )
        unbuild = self.env["mrp.unbuild"].create(
            {
                "product_id": product.id,
                "product_qty": qty,
                "product_uom_id": production.product_uom_id.id,
                "mo_id": production.id,
                "bom_id": production.bom_id.id,
                "lot_id": lots.id or False,
                "company_id": production.company_id.id,
                "location_id": location.id,
                "location_dest_id": production.location_src_id.id,
            }
        )
        try:
            with self.env.cr.savepoint():
                unbuild.action_unbuild()
        except UserError as error:
            raise ReversalRefused(
                _(
                    "Odoo refused to unbuild %(mo)s: %(error)s. Unbuild it by hand, or book a correction.",
                    mo=production.name,
                    error=error.args[0],
                )
            ) from error
        self.productions |= production
        self.steps.append(
            _(
                "%(mo)s was closed by this event: unbuilt (%(unbuild)s), its components back in stock. The order "
                "stays done; re-applying the event needs an open order.",
                mo=production.name,
                unbuild=unbuild.name,
            )
        )
