"""An MO's producing quantity and Odoo's stock cascade behind it.

Setting ``qty_producing`` is cheap; ``_set_qty_producing`` (every raw and
by-product move's quantity, its move lines, then their compaction) is what
makes a production report expensive. Its result depends only on the MO's
final producing quantity and on its moves' state, so inside one ingest batch
a run of production reports of an MO needs the cascade once, not once per
report: ``ProducingSync`` remembers which MOs wait for it and runs it when the
batch ends, or earlier, right before an event whose handler reads or changes
the MO's moves (completion, mark done, consumption, scrap, …).
"""

from .moves import compact_move_lines

# Event types whose handlers neither read nor write an MO's stock moves: they
# may run while the MO's moves still wait for the cascade. Any other type
# (completion, consumption, scrap, hold release, a future type) synchronises
# the MO first.
TYPES_NOT_READING_MOVES = frozenset(
    {
        "production.reported",
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


def synchronise_moves(production):
    """Odoo's cascade for the MO's current producing quantity (an onchange in the UI, hence the explicit call)."""
    production._set_qty_producing()
    compact_move_lines(production.move_raw_ids | production.move_byproduct_ids)


def set_producing(ctx, production, qty):
    """The MO's producing quantity becomes ``qty``; its moves follow now, or at
    the batch's next synchronisation point when the event runs in a batch and
    running the cascade once later ends in the same moves and lines."""
    production.qty_producing = qty
    if ctx.producing_sync is not None and ctx.type == "production.reported" and ctx.producing_sync.defer(production):
        return
    synchronise_moves(production)


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


class DeferredSyncFailed(Exception):
    """The deferred cascade failed: the batch must be applied again, one event at a time."""

    def __init__(self, productions, error):
        super().__init__(f"stock synchronisation of {', '.join(productions.mapped('name'))} failed: {error}")
        self.productions = productions
        self.error = error


class ProducingSync:
    """The MOs of one batch whose moves still wait for the producing cascade."""

    def __init__(self, env):
        self.env = env
        self._waiting = {}  # production id → record, in first-deferral order
        self.runs = 0  # how many cascades ran (for tests and profiling)

    def __bool__(self):
        return bool(self._waiting)

    def defer(self, production):
        """Leave the MO's cascade to the next synchronisation point; False when it must run now."""
        if production.id not in self._waiting:
            # Nothing touched the MO's moves since it was found idempotent: no second check.
            if not _cascade_is_idempotent(production):
                return False
            self._waiting[production.id] = production
        return True

    def waiting(self):
        return self.env["mrp.production"].browse(list(self._waiting))

    def before(self, event):
        """Synchronise the MOs ``event`` may read the moves of, before it applies."""
        if not self._waiting or event.type in TYPES_NOT_READING_MOVES:
            return
        self.flush(self._productions_of(event))

    def _productions_of(self, event):
        """The waiting MOs the event names; all of them when it cannot be told cheaply
        (no data.order, or orders looked up in the connection's table)."""
        order = event._get_data().get("order")
        if not isinstance(order, str) or not order or event.connection_id.order_lookup == "table":
            return self.waiting()
        return self.waiting().filtered(lambda production: production.name == order)

    def flush(self, productions=None):
        """Run the cascade for ``productions`` (default: every waiting MO).

        Raises DeferredSyncFailed; the caller then rolls the batch back and
        applies it event by event, so no report stays applied without effect."""
        productions = self.waiting() if productions is None else productions
        for production in productions:
            try:
                with self.env.cr.savepoint():
                    synchronise_moves(production.with_company(production.company_id))
            except Exception as error:
                raise DeferredSyncFailed(production, error) from error
            self._waiting.pop(production.id, None)
            self.runs += 1
