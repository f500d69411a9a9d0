"""The built-in case types, by name."""

from state_machines import duty, lead_dispute, picking_error, replacement, reservation, returns, rush_delivery
from state_machines.schema import CaseTypeDef

BUILTIN_TYPES: dict[str, CaseTypeDef] = {
    module.DEFINITION.name: module.DEFINITION
    for module in (returns, replacement, rush_delivery, reservation, lead_dispute, picking_error, duty)
}
