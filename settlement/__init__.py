"""Settlement: the ledger of cash and allowances (freezes, DvP transfers, fees)."""
