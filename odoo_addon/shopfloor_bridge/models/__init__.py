from . import shopfloor_connection
from . import shopfloor_mapping
from . import shopfloor_event
from . import shopfloor_event_log
