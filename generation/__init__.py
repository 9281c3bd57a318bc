"""Candidate answers from an endpoint: N samples per prompt, only those still missing."""
