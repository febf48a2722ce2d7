"""JSON-RPC error codes the stand-in returns, with the Core Lightning document each comes from.

Sources (ElementsProject/lightning): common/jsonrpc_errors.h (the enum), and the "errors"
section of doc/schemas/{pay,xpay,invoice,waitinvoice,sendpay}.json.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC 2.0 (common/jsonrpc_errors.h)
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
LIGHTNINGD = -1  # catch-all; waitinvoice.json: "the invoice does not exist"

# pay / xpay / sendpay (common/jsonrpc_errors.h, pay.json, xpay.json, sendpay.json)
PAY_IN_PROGRESS = 200
PAY_RHASH_ALREADY_USED = 201
PAY_DESTINATION_PERM_FAIL = 203
PAY_TRY_OTHER_ROUTE = 204
PAY_ROUTE_NOT_FOUND = 205
PAY_ROUTE_TOO_EXPENSIVE = 206
PAY_INVOICE_EXPIRED = 207
PAY_NO_SUCH_PAYMENT = 208  # waitsendpay.json: "was never made and there is nothing to wait for"
PAY_UNSPECIFIED_ERROR = 209  # xpay: "Failed after N attempts ..." once any attempt failed
PAY_INSUFFICIENT_FUNDS = 215  # legacy pay (libplugin-pay): spendable below the amount
PAY_INVOICE_ALREADY_PAID = 219  # xpay.json: "Invoice has already been paid."
# xpay (v26.06) reports askrene's capacity failures as 205 "Failed: ... Total source
# capacity is only ..."; 220 is kept for older nodes' answers (the agent maps both).
PAY_DESTINATION_INSUFFICIENT_CAPACITY = 220

# splice (common/jsonrpc_errors.h)
FUND_CANNOT_AFFORD = 301
SPLICE_WRONG_OWNER = 351  # "Channel is disconnected"
SPLICE_UNKNOWN_CHANNEL = 352
SPLICE_INVALID_CHANNEL_STATE = 353
SPLICE_BUSY_ERROR = 355
SPLICE_FUNDING_LOW = 357
SPLICE_STATE_ERROR = 358

# invoice / waitinvoice (invoice.json, waitinvoice.json)
INVOICE_LABEL_ALREADY_EXISTS = 900
INVOICE_PREIMAGE_ALREADY_EXISTS = 901
INVOICE_EXPIRED_DURING_WAIT = 903

# BOLT #4 failure codes (PERM 0x4000, NODE 0x2000, UPDATE 0x1000).
INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS = 0x400F
FAILCODES = {
    "WIRE_TEMPORARY_CHANNEL_FAILURE": 0x1007,
    "WIRE_CHANNEL_DISABLED": 0x1014,
    "WIRE_TEMPORARY_NODE_FAILURE": 0x2002,
    "WIRE_PERMANENT_NODE_FAILURE": 0x6002,
    "WIRE_PERMANENT_CHANNEL_FAILURE": 0x4008,
    "WIRE_UNKNOWN_NEXT_PEER": 0x400A,
    "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS": INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS,
    "WIRE_MPP_TIMEOUT": 0x0017,
}
PERM = 0x4000


def failcode_name(code: int) -> str:
    return next((n for n, c in FAILCODES.items() if c == code), f"failcode {code:#06x}")


class MethodError(Exception):
    """Raised by a method handler; becomes the JSON-RPC `error` object."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def bad_param(name: str, why: str) -> MethodError:
    return MethodError(INVALID_PARAMS, f"{name}: {why}")
