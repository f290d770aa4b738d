"""Reason codes carried by rejected, expired and cancelled order events (wire strings)."""

from typing import Final

# Command shape (raised by the wire decoder).
INVALID_JSON: Final = "invalid_json"
MALFORMED_COMMAND: Final = "malformed_command"
UNKNOWN_COMMAND_TYPE: Final = "unknown_command_type"
MISSING_FIELD: Final = "missing_field"
INVALID_FIELD: Final = "invalid_field"
UNEXPECTED_FIELD: Final = "unexpected_field"
INVALID_DECIMAL: Final = "invalid_decimal"

# Symbol configuration.
DUPLICATE_SYMBOL: Final = "duplicate_symbol"
INVALID_SYMBOL_CONFIG: Final = "invalid_symbol_config"
UNKNOWN_SYMBOL: Final = "unknown_symbol"

# Order validation.
DUPLICATE_CLIENT_ORDER_ID: Final = "duplicate_client_order_id"
INVALID_SIDE: Final = "invalid_side"
INVALID_ORDER_TYPE: Final = "invalid_order_type"
INVALID_TIF: Final = "invalid_tif"
INVALID_STP: Final = "invalid_stp"
PRICE_REQUIRED: Final = "price_required"
PRICE_NOT_APPLICABLE: Final = "price_not_applicable"
PRICE_NOT_ON_TICK: Final = "price_not_on_tick"
STOP_PRICE_NOT_ON_TICK: Final = "stop_price_not_on_tick"
PRICE_NOT_POSITIVE: Final = "price_not_positive"
PRICE_TOO_LARGE: Final = "price_too_large"
PRICE_OUT_OF_BAND: Final = "price_out_of_band"
STOP_PRICE_REQUIRED: Final = "stop_price_required"
STOP_PRICE_NOT_APPLICABLE: Final = "stop_price_not_applicable"
STOP_WOULD_TRIGGER_IMMEDIATELY: Final = "stop_would_trigger_immediately"
QUANTITY_NOT_ON_LOT: Final = "quantity_not_on_lot"
DISPLAY_QUANTITY_NOT_ON_LOT: Final = "display_quantity_not_on_lot"
QUANTITY_NOT_POSITIVE: Final = "quantity_not_positive"
QUANTITY_TOO_LARGE: Final = "quantity_too_large"
QUANTITY_BELOW_MINIMUM: Final = "quantity_below_minimum"
DISPLAY_QUANTITY_NOT_APPLICABLE: Final = "display_quantity_not_applicable"
DISPLAY_QUANTITY_INVALID: Final = "display_quantity_invalid"
POST_ONLY_WOULD_TAKE: Final = "post_only_would_take"

# Cancel / amend.
UNKNOWN_ORDER: Final = "unknown_order"
NOTHING_TO_AMEND: Final = "nothing_to_amend"
AMEND_NO_CHANGE: Final = "amend_no_change"
QUANTITY_NOT_ABOVE_FILLED: Final = "quantity_not_above_filled"

# Expiry / cancellation of accepted orders.
USER_CANCEL: Final = "user_cancel"
UNFILLED_REMAINDER: Final = "unfilled_remainder"
FOK_NOT_FILLABLE: Final = "fok_not_fillable"
SELF_TRADE_PREVENTION: Final = "self_trade_prevention"
