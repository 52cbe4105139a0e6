"""Keep raw moves' lines compact while the floor books quantities a little at a time.

``stock.move._set_quantity_done`` adds a line for every increase beyond the
existing lines, so one report per counter window grows a move to thousands of
lines and every later report rewrites them all (measured: 190 queries per
event after 20 reports, 1150 after 80). Lines that differ in nothing but their
quantity are merged back into one after each booking.
"""

from collections import defaultdict

LINE_IDENTITY = (
    "location_id",
    "location_dest_id",
    "lot_id",
    "package_id",
    "result_package_id",
    "owner_id",
    "product_uom_id",
    "picked",
)


def compact_move_lines(moves):
    for move in moves:
        if move.state in ("done", "cancel") or len(move.move_line_ids) < 2:
            continue
        groups = defaultdict(move.move_line_ids.browse)  # browse() is the empty recordset
        for line in move.move_line_ids:
            groups[tuple(line[name].id if hasattr(line[name], "id") else line[name] for name in LINE_IDENTITY)] |= line
        for lines in groups.values():
            if len(lines) < 2:
                continue
            keep, rest = lines[0], lines[1:]
            total = sum(lines.mapped("quantity"))
            rest.unlink()
            keep.quantity = total
