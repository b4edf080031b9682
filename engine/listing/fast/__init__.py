"""The fast path (docs/ARCHITECTURE.md "Two order books, one behaviour"): numba kernels over arrays.

``layout`` names the array columns, ``ladder`` keeps the dense price ladders, ``kernels`` and
``commands`` hold the rules, ``listing`` is the Python boundary the exchange talks to, and
``events`` turns the kernels' fixed-layout records back into ``engine.messages`` events.
"""
