from . import shopfloor_integration_user
from . import shopfloor_http_producer_token
from . import shopfloor_mapping_revision_compare
from . import shopfloor_event_reverse
