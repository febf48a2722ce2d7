"""agent.crypto.bolt11 held to two independent decoders: the `bolt11` package (strict, which
refuses an invoice without a payment secret as lightningd does) and pyln-proto; and the
other way round, the `bolt11` package's encoder read back by ours. tests/realnode holds it
to lightningd's own `invoice` and `decode`."""

from __future__ import annotations

import hashlib
import time

import bolt11 as ref
import coincurve
import pytest
from bech32 import bech32_decode, bech32_encode
from bolt11.models.features import Feature, Features, FeatureState
from bolt11.models.tags import TagChar, Tags
from hypothesis import given, settings
from hypothesis import strategies as st
from pyln.proto.invoice import Invoice as PylnInvoice

from agent.adapters.cln.node import decode_invoice
from agent.crypto import bolt11

KEYS = [coincurve.PrivateKey(bytes([i + 1]) * 32) for i in range(3)]
CURRENCIES = st.sampled_from(["bcrt", "tb", "bc", "tbs"])
# Below 1,000 BTC: the bolt11 package writes a whole multiple of 1,000 BTC as "1" (its
# msat_to_amount divides once too often), lightningd and we write "1000".
AMOUNTS = st.one_of(st.none(), st.integers(1, 1000 * bolt11.MSAT_PER_BTC - 1),
                    st.integers(1, 10**6 - 1).map(lambda n: n * 100_000_000))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)


def _params(draw: st.DrawFn) -> dict[str, object]:
    return {
        "currency": draw(CURRENCIES), "amount_msat": draw(AMOUNTS),
        "timestamp": draw(st.integers(0, 2**35 - 1)),
        "payment_hash": draw(st.binary(min_size=32, max_size=32)),
        "payment_secret": draw(st.binary(min_size=32, max_size=32)),
        "description": draw(TEXT), "deschashonly": draw(st.booleans()),
        "expiry_s": draw(st.sampled_from([3600, 1, 600, 604_800, 2**31])),
        "min_final_cltv_expiry": draw(st.sampled_from([10, 18, 144, 1, 2016])),
    }


invoice_params = st.composite(_params)


@settings(max_examples=150, deadline=None)
@given(invoice_params(), st.sampled_from(KEYS))
def test_the_bolt11_package_reads_every_field_back(p: dict[str, object],
                                                   key: coincurve.PrivateKey) -> None:
    text = bolt11.encode(key, **p)  # type: ignore[arg-type]
    got = ref.decode(text, strict=True)
    assert got.currency == p["currency"]
    assert got.amount_msat == p["amount_msat"]
    assert got.date == p["timestamp"]
    assert got.payment_hash == p["payment_hash"].hex()  # type: ignore[attr-defined]
    assert got.payment_secret == p["payment_secret"].hex()  # type: ignore[attr-defined]
    desc = str(p["description"]).encode()
    if p["deschashonly"]:
        assert got.description_hash == hashlib.sha256(desc).hexdigest()
        assert got.description is None
    else:
        assert got.description == p["description"]
    assert got.expiry == p["expiry_s"]
    assert got.min_final_cltv_expiry == p["min_final_cltv_expiry"]
    assert got.features is not None
    assert got.features.readable == {"var_onion_optin": "required",
                                     "payment_secret": "required",
                                     "basic_mpp": "supported",
                                     "option_route_blinding": "supported"}
    assert got.payee == key.public_key.format().hex()
    ours = bolt11.decode(text)
    assert (ours.payee, ours.payment_hash, ours.amount_msat) == (
        got.payee, got.payment_hash, got.amount_msat)


@settings(max_examples=100, deadline=None)
@given(invoice_params(), st.sampled_from(KEYS))
def test_pyln_proto_reads_the_fields_it_knows(p: dict[str, object],
                                              key: coincurve.PrivateKey) -> None:
    text = bolt11.encode(key, **p)  # type: ignore[arg-type]
    got = PylnInvoice.decode(text)
    assert got.hexpubkey == key.public_key.format().hex()
    assert got.hexpaymenthash == p["payment_hash"].hex()  # type: ignore[attr-defined]
    assert got.date == p["timestamp"]
    amount = None if got.amount is None else int(got.amount * bolt11.MSAT_PER_BTC)
    assert amount == p["amount_msat"]
    tags = dict(got.tags)
    if not p["deschashonly"]:
        assert tags["d"] == p["description"]
    assert tags.get("x", 3600) == p["expiry_s"]


def _reference_encode(p: dict[str, object], key: coincurve.PrivateKey) -> str:
    """The same invoice written by the `bolt11` package, fields in lightningd's order."""
    tags = Tags()
    tags.add(TagChar.payment_secret, p["payment_secret"].hex())  # type: ignore[attr-defined]
    tags.add(TagChar.payment_hash, p["payment_hash"].hex())  # type: ignore[attr-defined]
    desc = str(p["description"])
    if p["deschashonly"]:
        tags.add(TagChar.description_hash, hashlib.sha256(desc.encode()).hexdigest())
    else:
        tags.add(TagChar.description, desc)
    if p["expiry_s"] != 3600:
        tags.add(TagChar.expire_time, p["expiry_s"])
    tags.add(TagChar.min_final_cltv_expiry, p["min_final_cltv_expiry"])
    tags.add(TagChar.features, Features.from_feature_list({
        Feature.var_onion_optin: FeatureState.required,
        Feature.payment_secret: FeatureState.required,
        Feature.basic_mpp: FeatureState.supported,
        Feature.option_route_blinding: FeatureState.supported}))
    amount = p["amount_msat"]
    inv = ref.Bolt11(currency=str(p["currency"]), date=int(p["timestamp"]),  # type: ignore[call-overload]
                     tags=tags, amount_msat=None if amount is None else ref.MilliSatoshi(amount))
    return str(ref.encode(inv, key.secret.hex()))


@settings(max_examples=100, deadline=None)
@given(invoice_params(), st.sampled_from(KEYS))
def test_encoding_is_the_bolt11_packages_byte_for_byte(p: dict[str, object],
                                                       key: coincurve.PrivateKey) -> None:
    """Signatures are deterministic (RFC 6979), so the same fields give the same string."""
    theirs = _reference_encode(p, key)
    assert bolt11.encode(key, **p) == theirs  # type: ignore[arg-type]
    got = bolt11.decode(theirs)
    assert got.payment_secret == p["payment_secret"].hex()  # type: ignore[attr-defined]
    assert got.features == bolt11.CLN_FEATURES
    assert got.expiry_s == p["expiry_s"]
    assert got.min_final_cltv_expiry == p["min_final_cltv_expiry"]


@given(AMOUNTS.filter(lambda a: a is not None))
def test_amount_prefix_matches_the_bolt11_package(msat: int) -> None:
    text = bolt11.amount_hrp(msat)
    assert text == ref.utils.msat_to_amount(msat)
    assert ref.utils.amount_to_msat(text) == msat


@pytest.mark.parametrize(("msat", "hrp"), [
    (1, "10p"), (150, "1500p"), (1000, "10n"), (420_000, "4200n"), (250_000_000, "2500u"),
    (100_000_000, "1m"), (100_000_000_000, "1"), (1000 * 100_000_000_000, "1000"),
    (None, ""),
])
def test_amount_prefix_is_lightningds_choice(msat: int | None, hrp: str) -> None:
    assert bolt11.amount_hrp(msat) == hrp


def _sample(**kw: object) -> str:
    p: dict[str, object] = {"currency": "bcrt", "amount_msat": 21_000, "timestamp": 1_700_000_000,
                            "payment_hash": b"\x01" * 32, "payment_secret": b"\x02" * 32,
                            "description": "trade t-1"}
    p.update(kw)
    return bolt11.encode(KEYS[0], **p)  # type: ignore[arg-type]


def test_the_signature_covers_the_prefix() -> None:
    """Re-checksum the string with another amount: the signature no longer recovers the
    payee's key (a forger cannot move the amount)."""
    hrp, data = bech32_decode(_sample())
    assert hrp == "lnbcrt210n"
    forged = bolt11.decode(bech32_encode("lnbcrt2100n", data))
    assert forged.amount_msat == 210_000
    assert forged.payee != KEYS[0].public_key.format().hex()


@pytest.mark.parametrize("garbage", [
    "", "lnbcrt1", "notaninvoice", _sample()[:-1], _sample()[:-6] + "qqqqqq",
    bech32_encode("lnxx210n", bech32_decode(_sample())[1] or []),
    bech32_encode("lnbcrt21x", bech32_decode(_sample())[1] or []),
    bech32_encode("lnbcrt1p", bech32_decode(_sample())[1] or []),  # 0.1 msat
    bech32_encode("lnbcrt210n", (bech32_decode(_sample())[1] or [])[:100]),
])
def test_garbage_is_a_value_error(garbage: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        bolt11.decode(garbage)


def test_an_invoice_without_payment_secret_is_refused_before_paying() -> None:
    """What lnsim wrote before (pyln-proto's encoder, no `s`, no `9`): decodable, but a
    current lightningd refuses it, so the agent does too."""
    old = PylnInvoice(paymenthash=b"\x01" * 32, amount=None, currency="bcrt",
                      tags=[("d", "old"), ("x", 60)], date=int(time.time()))
    text = old.encode(KEYS[0].secret.hex())
    got = bolt11.decode(text)
    assert got.payment_secret is None
    assert got.features == 0
    with pytest.raises(ValueError, match="no payment secret"):
        decode_invoice(text)
    with pytest.raises(ref.exceptions.Bolt11NoPaymentSecretException):
        ref.decode(text)


def test_unknown_required_features_are_refused() -> None:
    text = _sample(features=bolt11.CLN_FEATURES | 1 << 100)
    assert bolt11.decode(text).unknown_required_features() == [100]
    with pytest.raises(ValueError, match="unknown required feature"):
        decode_invoice(text)
    decode_invoice(_sample(features=bolt11.CLN_FEATURES | 1 << 101))  # odd: optional


def test_decode_invoice_reads_what_lnsim_writes() -> None:
    text = _sample(expiry_s=600)
    got = decode_invoice(text.upper())
    assert got.payee == KEYS[0].public_key.format().hex()
    assert got.payment_hash == "01" * 32
    assert got.amount_msat == 21_000
    assert got.expires_at == 1_700_000_600
