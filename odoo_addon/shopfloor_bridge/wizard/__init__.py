from . import shopfloor_integration_user
