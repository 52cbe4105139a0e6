from . import shopfloor_integration_user
from . import shopfloor_http_producer_token
