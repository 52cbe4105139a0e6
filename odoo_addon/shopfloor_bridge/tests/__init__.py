from . import test_install
from . import test_plant
from . import test_workorder
