"""Errors at the gateway's edge that a user can fix: a key file, an endpoint, a node that does not answer.

Kept here rather than in ``carbonx.errors`` because the gateway sits below the command line
(docs/ARCHITECTURE.md "Packages and what each may import"): the command line counts ``GatewayError``
among the errors it prints as one line.
"""

from __future__ import annotations


class GatewayError(Exception):
    """``str()`` is one line saying what and where."""
