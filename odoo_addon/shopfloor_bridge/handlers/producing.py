"""An MO's producing quantity and Odoo's stock cascade behind it.

``_set_qty_producing`` (every raw and by-product move's quantity, its move
lines, then their compaction) is what makes a production report expensive.
Where its result depends only on the MO's final producing quantity (see
``_cascade_is_idempotent``), a run of production reports of an MO inside one
ingest batch needs the cascade once, not once per report: ``ProducingSync``
remembers which MOs wait for it and runs it when the batch ends, or earlier,
right before an event whose outcome would differ without it (completion, mark
done, a component's scrap, …).
"""

from odoo.tools import float_compare

from .moves import compact_move_lines, set_move_quantity
from .scrap_reported import validate_scraps

# Event types that may run while an MO's moves still wait for the cascade.
# Most never touch the moves. material.consumed does, but only on an MO whose
# cascade was found idempotent (plain lines, no unpicked manual move): the
# consumed move ends with the floor's total either way (the cascade booked no
# manual quantity it would add to), and later cascades leave it alone. Any
# other type (completion, mark done, hold release, a future type) synchronises
# the MO first; so does a scrap, unless it scraps the MO's own product.
TYPES_NOT_NEEDING_SYNC = frozenset(
    {
        "production.reported",
        "material.consumed",
        "quality.result",
        "quality.hold",
        "downtime.started",
        "downtime.ended",
        "workorder.started",
        "workorder.paused",
        "workorder.resumed",
        "setup.started",
        "setup.ended",
        "teardown.started",
        "teardown.ended",
    }
)


# Event types that may apply while scraps of the batch wait for their validation
# (``ProducingSync.defer_scrap``): they touch no stock quant, or, where they do
# (a report or a consumption booked at once, a scrap validated at once), they
# validate the waiting scraps first. Any other type validates them before it.
TYPES_COMMUTING_WITH_SCRAPS = TYPES_NOT_NEEDING_SYNC | {"scrap.reported"}


# Event types that never read an MO's producing quantity nor what Odoo computes
# from it (the work orders' expected durations, which the time log splits and
# the productive loss read; the MO's state beyond done and cancelled): a run of
# production reports of one MO goes on across them and writes the quantity
# once. Each write recomputes the MO's state and tracking and every work
# order's expected duration: the dearest part of a report. A scrap's stock move
# is outside the MO's moves (``scrapped``) and reads none of it either.
TYPES_NOT_READING_QUANTITY = frozenset(
    {
        "production.reported",
        "material.consumed",
        "quality.result",
        "quality.hold",
        "downtime.ended",
        "scrap.reported",
    }
)


# Time-log event types that may apply while a run of reports of an MO has not
# written its quantity yet: what they read of it (the expected duration of a work
# order, which decides a log's productive or performance loss and the overtime
# split; the MO's state, only through a first start) they read through
# ``settle_quantity``, which writes the run's quantity first unless reading the
# written one decides the same (see ``_decides_the_same``).
TYPES_SETTLING_QUANTITY = frozenset({"workorder.started", "workorder.resumed", "workorder.paused", "downtime.started"})


def settle_quantity(ctx, production, workorder=None, duration=None):
    """Before reading what Odoo computes from ``production``'s producing quantity: the
    batch's run of reports of that MO writes its quantity now, unless ``workorder``'s
    expected duration is read only to compare it with ``duration`` and the comparison
    comes out the same either way. A run of another MO is left alone (its quantity
    moves no figure of this one)."""
    sync = ctx.producing_sync
    if sync is None or not sync.quantity_waits(production):
        return
    if workorder is not None and duration is not None and _decides_the_same(workorder, sync, duration):
        return
    sync.write_quantity()


def _decides_the_same(workorder, sync, duration):
    """True when ``duration <= duration_expected`` holds for ``workorder`` both at the MO's
    written producing quantity and at the run's, so a log opened or closed now gets the
    same loss and no overtime split, written or not.

    With an operation, Odoo's expected duration is the operation's cycles for the producing
    quantity (``_get_duration_expected``: ceil(quantity / capacity) cycles), recomputed on
    each write of a quantity other than the order's; it does not shrink as the quantity
    grows from one above zero to one below the order's. So when the stored value is that
    of the written quantity and the duration is within it, it is within the run's too.
    Anything else (no operation, a quantity of zero, at or past the order's, a stored value
    set by hand) writes first."""
    production = workorder.production_id
    written = production.qty_producing
    pending = sync.pending_quantity()
    if (
        not workorder.operation_id
        or workorder.state in ("done", "cancel")
        or written <= 0
        or pending < written
        or pending >= workorder.qty_production
    ):
        return False
    stored = workorder.duration_expected
    # As stored: duration_expected keeps two digits (minutes); Odoo compares it as is.
    if float_compare(stored, workorder._get_duration_expected(), precision_digits=2):
        return False
    return duration <= stored


def synchronise_moves(production):
    """Odoo's cascade for the MO's current producing quantity (an onchange in the UI, hence the explicit call)."""
    production._set_qty_producing()
    compact_move_lines(production.move_raw_ids | production.move_byproduct_ids)


def set_producing(ctx, production, qty):
    """The MO's producing quantity becomes ``qty`` and its moves follow, now."""
    production.qty_producing = qty
    synchronise_moves(production)


def add_producing(ctx, production, qty):
    """A production report: the MO's producing quantity grows by ``qty``.

    In a batch, when running the cascade once later ends in the same moves and
    lines, the cascade waits for the batch's next synchronisation point, and a
    run of reports of the MO (with nothing in between but events of
    ``TYPES_NOT_READING_QUANTITY``) writes the quantity once: every write
    recomputes the MO's state and its work orders' expected durations, which
    nothing reads inside such a run."""
    sync = ctx.producing_sync
    if sync is not None and sync.defer(production):
        sync.add_quantity(production, qty)
        return
    if sync is not None:
        sync.validate_scraps()  # the cascade books stock: the scraps reported before it first
    set_producing(ctx, production, production.qty_producing + qty)


def _cascade_is_idempotent(production):
    """True when one cascade to the final quantity books what a cascade per report would.

    ``_set_quantity_done`` fills a move's existing lines in order and adds a
    plain line (no lot, package or owner, the move's locations) for the rest;
    ``compact_move_lines`` merges plain lines. So a move whose lines are all
    plain ends as one plain line of the target quantity either way. Not so for
    lines reserved on lots, packages or sublocations (step by step, lines
    beyond the first are dropped and the rest goes to new plain lines), for a
    manual-consumption move not picked yet (the first cascade books and picks
    it, later ones leave it alone), for by-products (put-away rules) and for
    serial products or multi-step manufacturing (the cascade itself branches)."""
    if production.product_id.tracking == "serial" or production.warehouse_id.manufacture_steps != "mrp_one_step":
        return False
    in_scope = production.move_raw_ids | production.move_finished_ids.filtered(
        lambda move: move.product_id != production.product_id
    )
    for move in in_scope:
        if (move.manual_consumption and move.picked) or move.sudo()._should_bypass_set_qty_producing():
            continue  # the cascade leaves it alone
        if move.manual_consumption or move.production_id:
            return False
        for line in move.move_line_ids:
            if (
                line.lot_id
                or line.package_id
                or line.result_package_id
                or line.owner_id
                or line.location_id != move.location_id
                or line.location_dest_id != move.location_dest_id
                or line.product_uom_id != move.product_uom
            ):
                return False
    return True


def _scrap_of_its_product_may_touch_its_moves(production):
    """Scrapping the MO's own product leaves its cascade alone: scrap moves are
    outside ``move_raw_ids`` / ``move_finished_ids`` (and so outside
    ``qty_produced``), and the scrapped quants are no component's reservation,
    unless the product is also a component of its own MO."""
    return production.product_id in production.move_raw_ids.product_id


class DeferredSyncFailed(Exception):
    """Work the batch deferred (a cascade, a quantity write, scraps) failed: the batch
    must be applied again, one event at a time. ``what`` names that work."""

    def __init__(self, what, error):
        super().__init__(f"{what} failed: {error}")
        self.error = error


def _synchronisation_of(productions):
    return f"stock synchronisation of {', '.join(productions.mapped('name'))}"


class ProducingSync:
    """What a batch leaves for later: the MOs whose moves still wait for the producing
    cascade, the run of reports whose quantity is not written yet, the floor's
    consumptions not booked yet, and the scraps not validated yet."""

    def __init__(self, env):
        self.env = env
        self._waiting = {}  # production id → record, in first-deferral order
        # (production, producing quantity) of the run of reports not written yet.
        self._quantity = None
        self._quantity_before_event = None
        # Floor consumptions not booked yet: production id → {move id: (move, total)}.
        self._bookings = {}
        self._bookings_before_event = {}
        # Scraps reported but not made yet, in event order: (event id, env, values, time of the event).
        self._scraps = []
        self._scraps_before_event = []
        # Event id → the stock.scrap made for it since (its result, added to the event's outcome).
        self.made_scraps = {}
        self._made_scraps_before_event = {}
        # True while the apply loop runs events under a shared savepoint (see ``write_quantity``).
        self.in_group = False
        self.runs = 0  # how many cascades ran (for tests and profiling)
        self.scrap_runs = 0  # how many validations of waiting scraps ran

    def checkpoint(self):
        """What the batch still owes, to ``restore`` when a group of events is undone."""
        return (
            dict(self._waiting),
            self._quantity,
            {key: dict(value) for key, value in self._bookings.items()},
            self.runs,
            list(self._scraps),
            dict(self.made_scraps),
            self.scrap_runs,
        )

    def restore(self, state):
        """Back to ``checkpoint()``'s state: the group's savepoint was rolled back, with
        the cascades and writes run inside it."""
        waiting, self._quantity, bookings, self.runs, scraps, made_scraps, self.scrap_runs = state
        self._waiting = dict(waiting)
        self._bookings = {key: dict(value) for key, value in bookings.items()}
        self._scraps = list(scraps)
        self.made_scraps = dict(made_scraps)
        self._quantity_before_event = self._quantity
        self._bookings_before_event = {key: dict(value) for key, value in self._bookings.items()}
        self._scraps_before_event = list(self._scraps)
        self._made_scraps_before_event = dict(self.made_scraps)

    def defer(self, production):
        """Leave the MO's cascade to the next synchronisation point; False when it must run now."""
        if production.id not in self._waiting:
            # Nothing touched the MO's moves since it was found idempotent: no second check.
            if not _cascade_is_idempotent(production):
                return False
            self._waiting[production.id] = production
        return True

    def waiting(self):
        """The MOs with a cascade or a consumption still to run."""
        return self.env["mrp.production"].browse(list(dict.fromkeys([*self._waiting, *self._bookings])))

    def may_book_later(self, production):
        """True when a consumption on the MO may wait like its cascade (same conditions)."""
        return production.id in self._waiting or production.id in self._bookings or _cascade_is_idempotent(production)

    def booked_total(self, move):
        """The floor's total on ``move`` still to book, or None."""
        booking = self._bookings.get(move.raw_material_production_id.id, {}).get(move.id)
        return booking[1] if booking else None

    def book_later(self, move, total):
        """``move`` ends with ``total`` (its lines follow at the next synchronisation point)."""
        self._bookings.setdefault(move.raw_material_production_id.id, {})[move.id] = (move, total)

    def add_quantity(self, production, qty):
        if self._quantity and self._quantity[0] != production:
            self.write_quantity()  # before() already did, unless called out of a batch's loop
        current = self._quantity[1] if self._quantity else production.qty_producing
        # Rounded at each report as the ORM rounds each write, so the sum is the same.
        self._quantity = (production, production._fields["qty_producing"].convert_to_cache(current + qty, production))

    def quantity_waits(self, production):
        """True when the run of reports not written yet is ``production``'s."""
        return bool(self._quantity) and self._quantity[0] == production

    def pending_quantity(self):
        """The producing quantity the run of reports will write."""
        return self._quantity[1]

    def write_quantity(self):
        """Write the producing quantity of the run of reports that just ended."""
        if not self._quantity:
            return
        production, qty = self._quantity
        self._quantity = None
        try:
            if self.in_group:
                # Flushed with the group: should the flush fail, the group is undone and its
                # events apply alone, where this write has a savepoint of its own again.
                production.qty_producing = qty
                return
            with self.env.cr.savepoint():
                production.qty_producing = qty
        except Exception as error:
            raise DeferredSyncFailed(_synchronisation_of(production), error) from error

    def before(self, event):
        """Before ``event`` applies: end the run of reports unless it continues it, and
        synchronise the MOs whose moves it may read."""
        if self._quantity and not self._continues_run(event):
            self.write_quantity()
        self._quantity_before_event = self._quantity
        self._bookings_before_event = {key: dict(value) for key, value in self._bookings.items()}
        if self._scraps and event.type not in TYPES_COMMUTING_WITH_SCRAPS:
            self.validate_scraps()
        if (self._waiting or self._bookings) and event.type not in TYPES_NOT_NEEDING_SYNC:
            productions = self._productions_of(event)
            if event.type == "scrap.reported" and not event._get_data().get("material"):
                productions = productions.filtered(_scrap_of_its_product_may_touch_its_moves)
            self.flush(productions)
        # Scraps made above stay made whatever the event does (outside its savepoint).
        self._scraps_before_event = list(self._scraps)
        self._made_scraps_before_event = dict(self.made_scraps)

    def event_failed(self):
        """The event's savepoint was rolled back: so is what it added to the run or the bookings."""
        self._quantity = self._quantity_before_event
        self._bookings = self._bookings_before_event
        self._scraps = self._scraps_before_event
        self.made_scraps = self._made_scraps_before_event

    def _continues_run(self, event):
        """True when ``event`` may apply while the run's quantity is not written yet: a
        report of the same MO (it adds to the run), or an event that reads no producing quantity."""
        if event.type != "production.reported":
            return event.type in TYPES_NOT_READING_QUANTITY or event.type in TYPES_SETTLING_QUANTITY
        production = self._quantity[0]
        return (
            event._get_data().get("order") == production.name
            and event.connection_id.order_lookup != "table"
            and event.company_id == production.company_id
        )

    def _productions_of(self, event):
        """The waiting MOs the event names; all of them when it cannot be told cheaply
        (no data.order, or orders looked up in the connection's table)."""
        order = event._get_data().get("order")
        if not isinstance(order, str) or not order or event.connection_id.order_lookup == "table":
            return self.waiting()
        return self.waiting().filtered(lambda production: production.name == order)

    def flush(self, productions=None):
        """Run the cascade for ``productions`` (default: every waiting MO).

        The run of reports is written first when its MO is among them (its cascade reads
        the quantity); a flush of other MOs, or of none (a scrap of an MO's own product),
        leaves the run going: nothing else it runs reads that quantity.

        Raises DeferredSyncFailed; the caller then rolls the batch back and
        applies it event by event, so no report stays applied without effect."""
        if productions is None or (self._quantity and self._quantity[0] in productions):
            self.write_quantity()
        if productions is None or productions:
            self.validate_scraps()  # reported before the cascades and bookings that run now
        productions = self.waiting() if productions is None else productions
        for production in productions:
            bookings = self._bookings.pop(production.id, {})
            cascade = self._waiting.pop(production.id, None)
            try:
                with self.env.cr.savepoint():
                    # The consumptions first: per event they were booked before the reports that followed.
                    for move, total in bookings.values():
                        set_move_quantity(move, total)
                    if cascade:
                        synchronise_moves(production.with_company(production.company_id))
            except Exception as error:
                raise DeferredSyncFailed(_synchronisation_of(production), error) from error
            if cascade:
                self.runs += 1

    def defer_scrap(self, event, env, values, when):
        """Make and validate the scrap of ``values`` (in ``env``, dated ``when``) for ``event``
        with the batch's other scraps, before the next event that may touch stock or when
        the batch ends; ``made_scraps`` then holds it."""
        self._scraps.append((event.id, env, values, when))

    def validate_scraps(self):
        """Make and validate the waiting scraps now, in one go (``scrap_reported.validate_scraps``).

        Raises DeferredSyncFailed, as a failed cascade does."""
        if not self._scraps:
            return
        scraps, self._scraps = self._scraps, []
        try:
            with self.env.cr.savepoint():
                made = validate_scraps([(env, values, when) for _event_id, env, values, when in scraps])
        except Exception as error:
            products = ", ".join(
                dict.fromkeys(
                    env["product.product"].browse(values["product_id"]).display_name for _e, env, values, _w in scraps
                )
            )
            raise DeferredSyncFailed(f"validation of {len(scraps)} deferred scraps ({products})", error) from error
        for (event_id, _env, _values, _when), scrap in zip(scraps, made, strict=True):
            self.made_scraps[event_id] = scrap
        self.scrap_runs += 1
