{
    "name": "Shop Floor Bridge",
    "summary": "Production events from MES/SCADA/PLCs into Odoo MRP, planning back to the floor",
    "version": "18.0.0.1.0",
    "category": "Manufacturing/Manufacturing",
    "author": "Shopfloor Bridge contributors",
    "website": "https://github.com/shopfloor-bridge/shopfloor-bridge",
    "license": "LGPL-3",
    "depends": ["mrp", "maintenance", "mrp_account"],
    "external_dependencies": {"python": ["jsonschema"]},
    "data": [
        "security/shopfloor_bridge_security.xml",
        "security/ir.model.access.csv",
        "security/shopfloor_bridge_rules.xml",
        "data/shopfloor_bridge_cron.xml",
        "views/shopfloor_event_views.xml",
        "views/shopfloor_connection_views.xml",
        "views/shopfloor_mapping_views.xml",
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
