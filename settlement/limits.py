"""The integer bounds the settlement kernels rely on, apart from the kernels: the config checks its
rates against them without loading numba (``carbonx.config`` is imported by every command)."""

from __future__ import annotations

PPM = 1_000_000

# The largest value × rate the fee (``settlement.kernels.fee_for``) may take: the product and the
# half-up term fit 64 bits. carbonx.config holds every listing order's value × the listing rate
# under it (a larger rate, or a larger order size, is a config error), since a fee that splits the
# product exactly cost a sixth of the kernel's time.
FEE_PRODUCT_MAX = 2**63 - 1 - PPM // 2
