"""Benchmarks: the signalling relay, joins, call setup and the records store, against baselines.

Run ``python -m bench`` for the quick set; each module has ``--help`` for the full set.
Figures are printed, never asserted; every loop is bounded in count and time, loopback only.
"""
