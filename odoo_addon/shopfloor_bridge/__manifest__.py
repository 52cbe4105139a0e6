{
    "name": "Shop Floor Bridge",
    "summary": "Production events from MES/SCADA/PLCs into Odoo MRP, planning back to the floor",
    "version": "18.0.0.1.0",
    "category": "Manufacturing/Manufacturing",
    "author": "Shopfloor Bridge contributors",
    "website": "https://github.com/shopfloor-bridge/shopfloor-bridge",
    "license": "LGPL-3",
    "depends": ["mrp", "maintenance", "mrp_account"],
    "data": [
        "security/shopfloor_bridge_security.xml",
        "security/ir.model.access.csv",
        "views/shopfloor_bridge_client_actions.xml",
        "views/shopfloor_bridge_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            # Built from owl_src/ by `npm run build` (esbuild); not committed.
            "shopfloor_bridge/static/src/generated/**/*",
        ],
    },
    "installable": True,
    "application": False,
}
