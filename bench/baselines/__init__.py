"""Minimal relays that the Telemed server is measured against."""
