"""Signatures: Lightning node message signatures and the agents' Ed25519 envelopes."""
