"""BOLT #11 invoices as Core Lightning writes them, encoded and decoded in well under 1 ms.

The bech32 layer (checksum, 5-bit words) is the `bech32` package's and secp256k1 (the
recoverable signature over sha256(hrp || data)) is coincurve's. What is left here is the
layout of the tagged fields, which both maintained Python codecs (`bolt11`, pyln-proto)
do bit by bit through bitstring at 4-7 ms an invoice: here a field is a slice of the
5-bit word list and its value one integer. tests/unit/test_u_bolt11.py holds this module
to the `bolt11` package's strict decoder and to pyln-proto on random invoices, both ways.

Fields written, in lightningd's order (common/bolt11.c, bolt11_encode_): `s` payment
secret, `p` payment hash, `d` description or `h` its sha256, `x` expiry (only when not
3600), `c` min_final_cltv_expiry (always), `9` features. A reader skips unknown fields and
`p`/`h`/`s`/`n` of the wrong length, as BOLT #11 says; the first of a repeated field wins.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import coincurve
from bech32 import CHARSET, bech32_decode, bech32_encode

from agent.domain.units import MSAT_PER_BTC

DEFAULT_EXPIRY_S = 3600  # BOLT #11: no `x` means one hour
DEFAULT_MIN_FINAL_CLTV = 18  # BOLT #11: no `c` means 18
# Feature bits (BOLT #9): even = required, odd = optional.
VAR_ONION_OPTIN_REQUIRED = 8
PAYMENT_SECRET_REQUIRED = 14
BASIC_MPP_OPTIONAL = 17
ROUTE_BLINDING_OPTIONAL = 25
PAYMENT_METADATA_OPTIONAL = 49
# What lightningd puts in `9` (common/features.c, BOLT11_FEATURE): 0x02024100
CLN_FEATURES = (1 << VAR_ONION_OPTIN_REQUIRED | 1 << PAYMENT_SECRET_REQUIRED
                | 1 << BASIC_MPP_OPTIONAL | 1 << ROUTE_BLINDING_OPTIONAL)
KNOWN_FEATURE_PAIRS = frozenset(bit // 2 for bit in (
    VAR_ONION_OPTIN_REQUIRED, PAYMENT_SECRET_REQUIRED, BASIC_MPP_OPTIONAL,
    ROUTE_BLINDING_OPTIONAL, PAYMENT_METADATA_OPTIONAL))
CURRENCIES = ("bcrt", "tbs", "tb", "bc")  # longest first: "lntbs" is signet, not testnet
# multiplier -> value of one unit in tenths of a msat (p = 0.1 msat); none = 1 BTC
_MULTIPLIER_DECI_MSAT = {"m": 10**9, "u": 10**6, "n": 10**3, "p": 1}
_AMOUNT = re.compile(r"([1-9][0-9]*)([munp]?)")
_TAG = {c: CHARSET.index(c) for c in "psdhnxc9"}
_SIGNATURE_WORDS = 104  # 520 bits: R || S || recovery id
_TIMESTAMP_WORDS = 7  # 35 bits


@dataclass(frozen=True, slots=True)
class Bolt11:
    currency: str
    amount_msat: int | None
    timestamp: int
    payment_hash: str
    payment_secret: str | None
    description: str | None
    description_hash: str | None
    expiry_s: int
    min_final_cltv_expiry: int
    features: int  # the `9` field as one integer: bit n is feature bit n
    payee: str  # 33-byte compressed public key, hex
    signature: bytes  # 65 bytes: R || S || recovery id

    @property
    def expires_at(self) -> int:
        return self.timestamp + self.expiry_s

    def unknown_required_features(self) -> list[int]:
        """Even (required) feature bits this codec does not know; a payer MUST NOT pay."""
        return [bit for bit in range(0, self.features.bit_length(), 2)
                if self.features >> bit & 1 and bit // 2 not in KNOWN_FEATURE_PAIRS]


def _words(value: int, count: int) -> list[int]:
    return [(value >> (5 * (count - 1 - i))) & 31 for i in range(count)]


def _value(words: list[int]) -> int:
    value = 0
    for w in words:
        value = value << 5 | w
    return value


def _bytes_to_words(data: bytes) -> list[int]:
    count = -(-len(data) * 8 // 5)
    return _words(int.from_bytes(data, "big") << (count * 5 - len(data) * 8), count)


def _words_to_bytes(words: list[int]) -> bytes:
    """The whole bytes of `words`; trailing bits that do not fill a byte are padding."""
    nbytes = len(words) * 5 // 8
    return (_value(words) >> (len(words) * 5 - nbytes * 8)).to_bytes(nbytes, "big")


def _signed_bytes(words: list[int]) -> bytes:
    """`words` as bytes, zero bits appended to the next byte boundary (what is signed)."""
    nbytes = -(-len(words) * 5 // 8)
    return (_value(words) << (nbytes * 8 - len(words) * 5)).to_bytes(nbytes, "big")


def _field(tag: str, words: list[int]) -> list[int]:
    return [_TAG[tag], len(words) >> 5, len(words) & 31, *words]


def _int_field(tag: str, value: int) -> list[int]:
    return _field(tag, _words(value, max(1, -(-value.bit_length() // 5))))


def amount_hrp(amount_msat: int | None) -> str:
    """The shortest amount with the largest multiplier (lightningd's choice); '' for none."""
    if amount_msat is None:
        return ""
    if amount_msat <= 0:
        raise ValueError(f"amount {amount_msat} msat is not positive")
    if amount_msat % MSAT_PER_BTC == 0:
        return str(amount_msat // MSAT_PER_BTC)
    deci = amount_msat * 10
    letter, unit = next((k, v) for k, v in _MULTIPLIER_DECI_MSAT.items() if deci % v == 0)
    return f"{deci // unit}{letter}"


def _parse_hrp(hrp: str) -> tuple[str, int | None]:
    if not hrp.startswith("ln"):
        raise ValueError(f"prefix {hrp!r} does not start with 'ln'")
    currency = next((c for c in CURRENCIES if hrp.startswith(c, 2)), None)
    if currency is None:
        raise ValueError(f"unknown currency in {hrp!r}")
    rest = hrp[2 + len(currency):]
    if not rest:
        return currency, None
    m = _AMOUNT.fullmatch(rest)
    if m is None:
        raise ValueError(f"invalid amount {rest!r}")
    number, letter = int(m.group(1)), m.group(2)
    if not letter:
        return currency, number * MSAT_PER_BTC
    deci = number * _MULTIPLIER_DECI_MSAT[letter]
    if deci % 10:
        raise ValueError(f"amount {rest!r} is not a whole msat")
    return currency, deci // 10


def encode(key: coincurve.PrivateKey, *, currency: str, amount_msat: int | None,
           timestamp: int, payment_hash: bytes, payment_secret: bytes, description: str,
           deschashonly: bool = False, expiry_s: int = DEFAULT_EXPIRY_S,
           min_final_cltv_expiry: int = DEFAULT_MIN_FINAL_CLTV,
           features: int = CLN_FEATURES) -> str:
    """A signed invoice; with `deschashonly` the `h` field carries sha256(description)."""
    if len(payment_hash) != 32 or len(payment_secret) != 32:
        raise ValueError("payment hash and payment secret are 32 bytes each")
    if currency not in CURRENCIES:
        raise ValueError(f"unknown currency {currency!r}")
    hrp = "ln" + currency + amount_hrp(amount_msat)
    desc = description.encode()
    data = _words(timestamp, _TIMESTAMP_WORDS)
    data += _field("s", _bytes_to_words(payment_secret))
    data += _field("p", _bytes_to_words(payment_hash))
    data += (_field("h", _bytes_to_words(hashlib.sha256(desc).digest())) if deschashonly
             else _field("d", _bytes_to_words(desc)))
    if expiry_s != DEFAULT_EXPIRY_S:
        data += _int_field("x", expiry_s)
    data += _int_field("c", min_final_cltv_expiry)
    if features:
        data += _int_field("9", features)
    signature = key.sign_recoverable(hrp.encode() + _signed_bytes(data))
    return bech32_encode(hrp, data + _bytes_to_words(signature))


def decode(text: str) -> Bolt11:
    """Decode and check the signature; ValueError on anything that is not a signed invoice."""
    hrp, data = bech32_decode(text.strip())
    if hrp is None or data is None:
        raise ValueError("Bad bech32 string")
    currency, amount_msat = _parse_hrp(hrp)
    if len(data) < _TIMESTAMP_WORDS + _SIGNATURE_WORDS:
        raise ValueError("too short to hold a timestamp and a signature")
    body, signature = data[:-_SIGNATURE_WORDS], _words_to_bytes(data[-_SIGNATURE_WORDS:])
    fields: dict[str, list[int]] = {}
    pos = _TIMESTAMP_WORDS
    while pos < len(body):
        if pos + 3 > len(body):
            raise ValueError("truncated tagged field")
        tag, length = CHARSET[body[pos]], body[pos + 1] << 5 | body[pos + 2]
        words = body[pos + 3:pos + 3 + length]
        if len(words) != length:
            raise ValueError(f"tagged field {tag!r} runs past the end")
        pos += 3 + length
        want = {"p": 52, "h": 52, "s": 52, "n": 53}.get(tag)
        if tag in _TAG and tag not in fields and want in (None, length):
            fields[tag] = words
    if "p" not in fields:
        raise ValueError("No valid 'p' field found")
    if "d" in fields and "h" in fields:
        raise ValueError("both a description and a description hash")
    message = hrp.encode() + _signed_bytes(body)
    if signature[64] > 3:
        raise ValueError("bad signature recovery id")
    try:
        payee = coincurve.PublicKey.from_signature_and_message(signature, message)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad signature: {exc}") from exc
    payee_hex = payee.format().hex()
    if "n" in fields and _words_to_bytes(fields["n"]).hex() != payee_hex:
        raise ValueError("signature is not the `n` field's")
    try:
        description = _words_to_bytes(fields["d"]).decode() if "d" in fields else None
    except UnicodeDecodeError as exc:
        raise ValueError("description is not UTF-8") from exc
    return Bolt11(
        currency=currency, amount_msat=amount_msat, timestamp=_value(body[:_TIMESTAMP_WORDS]),
        payment_hash=_words_to_bytes(fields["p"]).hex(),
        payment_secret=_words_to_bytes(fields["s"]).hex() if "s" in fields else None,
        description=description,
        description_hash=_words_to_bytes(fields["h"]).hex() if "h" in fields else None,
        expiry_s=_value(fields["x"]) if "x" in fields else DEFAULT_EXPIRY_S,
        min_final_cltv_expiry=(_value(fields["c"]) if "c" in fields
                               else DEFAULT_MIN_FINAL_CLTV),
        features=_value(fields["9"]) if "9" in fields else 0,
        payee=payee_hex, signature=signature,
    )
