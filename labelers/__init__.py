"""labelers."""
