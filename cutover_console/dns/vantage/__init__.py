"""Vantage points: the propagation engine's other sources. Globalping's probes and SSH hosts the
team controls ask the same question as the resolvers of `dns:`, from where the shops are, and
answer with the same `Verdict` (classify.py), folded by the same tracker."""
