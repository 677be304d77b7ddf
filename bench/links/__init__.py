"""Shaped links for calls: coturn, network namespaces, an impairment relay and the matrix."""
