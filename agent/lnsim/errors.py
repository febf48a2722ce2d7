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
PAY_DESTINATION_PERM_FAIL = 203
PAY_ROUTE_NOT_FOUND = 205
PAY_ROUTE_TOO_EXPENSIVE = 206
PAY_INVOICE_EXPIRED = 207
PAY_UNSPECIFIED_ERROR = 209
PAY_INVOICE_ALREADY_PAID = 219  # xpay.json: "Invoice has already been paid."

# invoice / waitinvoice (invoice.json, waitinvoice.json)
INVOICE_LABEL_ALREADY_EXISTS = 900
INVOICE_PREIMAGE_ALREADY_EXISTS = 901
INVOICE_EXPIRED_DURING_WAIT = 903

# BOLT #4 failure code the destination returns for an unknown or already-paid hash.
INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS = 0x400F


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
