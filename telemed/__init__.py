"""Telemed: online case conferences between district health centres and referral hospitals."""

__version__ = "0.1.0"
