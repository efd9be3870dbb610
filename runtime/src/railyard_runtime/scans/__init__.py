"""Gating scans: image vulnerabilities and static analysis block a release."""
