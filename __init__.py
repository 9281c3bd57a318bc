"""prefsmith: offline labeling and dataset building for preference (RLHF) data."""

__version__ = "0.1.0"
