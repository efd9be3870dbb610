"""Gating scans (seed 001): image vulnerabilities and static analysis block a release."""
