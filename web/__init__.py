"""The public website (issue 18): a bridge from market data to HTTP pages and a live stream (docs/WEB.md)."""
