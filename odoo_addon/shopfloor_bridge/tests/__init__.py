from . import test_install
from . import test_plant
from . import test_workorder
from . import test_dashboard
