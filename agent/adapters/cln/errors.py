"""Core Lightning's JSON-RPC error codes, sorted by what they mean for a payment.

Sources (ElementsProject/lightning): `common/jsonrpc_errors.h` and the "errors" sections of
`doc/schemas/{pay,xpay,sendpay,waitsendpay,invoice}.json`. The adapter never decides on a
code alone where the node may have moved money anyway: it asks `listsendpays` first (xpay
can report a failure for a payment that completed, or fail while parts are in flight).
"""

from __future__ import annotations

import re
from typing import Literal

METHOD_NOT_FOUND = -32601  # JSON-RPC 2.0: e.g. `xpay` on a node older than v24.11
LIGHTNINGD = -1            # catch-all
PAY_IN_PROGRESS = 200      # a payment with this hash is under way
PAY_RHASH_ALREADY_USED = 201  # paid before with another amount or destination
PAY_DESTINATION_PERM_FAIL = 203  # e.g. the payee does not know (any more) this invoice
PAY_TRY_OTHER_ROUTE = 204
PAY_ROUTE_NOT_FOUND = 205  # xpay also uses it when no route fits the fee budget
PAY_ROUTE_TOO_EXPENSIVE = 206  # pay; xpay v26.06: "Could not find route without excessive cost"
PAY_INVOICE_EXPIRED = 207
PAY_NO_SUCH_PAYMENT = 208  # waitsendpay: never sent
PAY_UNSPECIFIED_ERROR = 209
PAY_STOPPED_RETRYING = 210  # pay gave up (retry_for)
PAY_INVOICE_ALREADY_PAID = 219  # xpay: we paid this invoice already
PAY_INSUFFICIENT_FUNDS = 215  # old pay plugin: spendable below the amount
PAY_DESTINATION_INSUFFICIENT_CAPACITY = 220  # older xpay/askrene; v26.06 says 205 "Failed: ..."
LABEL_ALREADY_EXISTS = 900  # invoice: label clash -> "already created"

Meaning = Literal["in_progress", "already_paid", "route", "fee", "expired", "destination",
                  "policy", "invalid"]

_BY_CODE: dict[int, Meaning] = {
    PAY_IN_PROGRESS: "in_progress",
    PAY_INVOICE_ALREADY_PAID: "already_paid",
    PAY_RHASH_ALREADY_USED: "destination",
    PAY_DESTINATION_PERM_FAIL: "destination",
    PAY_TRY_OTHER_ROUTE: "route",
    PAY_ROUTE_NOT_FOUND: "route",
    PAY_INSUFFICIENT_FUNDS: "route",
    PAY_DESTINATION_INSUFFICIENT_CAPACITY: "route",
    PAY_UNSPECIFIED_ERROR: "route",
    PAY_STOPPED_RETRYING: "route",
    LIGHTNINGD: "route",
    PAY_ROUTE_TOO_EXPENSIVE: "fee",
    PAY_INVOICE_EXPIRED: "expired",
}

# A remote signer (VLS) that refuses to sign logs "policy failed: policy-<rule> ..." and the
# node reports the refusal through the RPC error's message; CLN has no code of its own for it.
_POLICY = re.compile(r"policy[ -](failed|failure|violation)|\bpolicy-[a-z0-9-]+", re.I)
_FEE = re.compile(r"fee (exceeds|budget)|too expensive|maxfee|excessive cost", re.I)


def meaning(code: int | None, message: str) -> Meaning:
    """What an error from pay/xpay means; see docs/settlement.md for the table."""
    if _POLICY.search(message):
        return "policy"
    found = _BY_CODE.get(code) if code is not None else None
    if found == "route" and _FEE.search(message):
        return "fee"  # xpay answers 205 when a route exists but not within maxfee
    return found or "invalid"


# Worth another attempt with the same bolt11 (later: a new route, more liquidity).
RETRYABLE: frozenset[Meaning] = frozenset({"route", "fee"})
