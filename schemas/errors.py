"""Errors that mean "the user asked for something that can't be done"."""


class UserError(Exception):
    """A mistake in input or configuration: shown as one line, never as a traceback."""
