"""Sealed-bid auctions: reserve sales, buybacks and one-way bidding (docs/AUCTIONS.md)."""

from engine.auction.mechanism import Auctions

__all__ = ["Auctions"]
