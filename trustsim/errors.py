"""Errors that reach the user as one clear message (the CLI turns them into exit code 2)."""


class TrustsimInputError(Exception):
    """Bad input from a user: a scenario or experiment file, an override, an option.

    The message names where the problem is (file, field path, value) and what is allowed,
    so the CLI can print it as it is, without a traceback.
    """
