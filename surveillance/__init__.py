"""Surveillance: the trade log store, queries, alerts and reports for surveillance analysts.
Built on the engine's event stream in a later issue."""
