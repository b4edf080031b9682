"""Errors a user can cause. The command line prints them as one line, never a traceback."""


class CarbonxError(Exception):
    """A problem the user can fix: bad config, bad file, bad argument. ``str()`` is the one line."""


class ConfigError(CarbonxError):
    """A config file is missing, unreadable or invalid; the message names the file, the key and the problem."""
