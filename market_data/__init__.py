"""Market data: L1 quotes, five-level depth, trades, status and the daily bulletin on ZeroMQ PUB,
with snapshot and gap recovery. Arrives with the gateway issue; the engine already emits the
events it will publish (TradeExecuted, DailyBulletin, status changes)."""
