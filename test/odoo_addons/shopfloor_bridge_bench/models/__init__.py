from . import shopfloor_cost_variance
