"""Core Lightning: the node (payments, invoices), its channels and splices, its error codes
and the channel balance, all through pyln-client."""
