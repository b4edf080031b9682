"""Settlement: the ledger of cash and allowances (freezes, DvP transfers, fees), the one place a balance changes.

``ledger`` is its Python API, ``kernels`` the same moves in numba for the fast book's kernels, both
over the arrays of ``arrays``; ``statements`` turns a day's activity into the end-of-day statements.
"""
