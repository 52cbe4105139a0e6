{
    "name": "Shop Floor Bridge benchmark hooks",
    "summary": "Timings of the cost refresh for sidecar/bench/cost.bench.ts; never installed in a real database",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Shopfloor Bridge contributors",
    "website": "https://github.com/shopfloor-bridge/shopfloor-bridge",
    "license": "LGPL-3",
    "development_status": "Alpha",
    "maintainers": ["shopfloor-bridge"],
    "depends": ["shopfloor_bridge"],
    "data": [],
    # Outside the module's addons folder: only the benchmark puts this folder
    # on the addons path (sidecar/devstack/odoo.ts, startOdoo's benchAddons)
    # and installs it into its own database. Packaging, tests and the demo
    # never see it.
    "installable": True,
    "auto_install": False,
    "application": False,
}
