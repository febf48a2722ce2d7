"""The logistics domain: carriers sell delivery slots, shippers buy them for their parcels,
through the energy market's negotiation, wire and settlement (`peerwatt simulate --domain
logistics`, docs/logistics.md)."""
