"""Helpers that tests (ours and plugins') reuse: local servers standing in for remote services."""
