"""`peerwatt simulate`: a community of homes on a simulated clock, through the daemon's own
decision, negotiation and settlement rules, against baselines (see docs/simulate.md)."""
