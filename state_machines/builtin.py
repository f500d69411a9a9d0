"""The built-in case types, by name."""

from state_machines import (
    closing_documents,
    customer_handover,
    delivery_terms,
    duty,
    lead_dispute,
    picking_error,
    product_demand,
    replacement,
    reservation,
    returns,
    rush_delivery,
    security_check,
    stock_discrepancy,
)
from state_machines.schema import CaseTypeDef

BUILTIN_TYPES: dict[str, CaseTypeDef] = {
    module.DEFINITION.name: module.DEFINITION
    for module in (
        returns,
        replacement,
        rush_delivery,
        reservation,
        lead_dispute,
        picking_error,
        closing_documents,
        delivery_terms,
        product_demand,
        stock_discrepancy,
        security_check,
        customer_handover,
        duty,
    )
}
