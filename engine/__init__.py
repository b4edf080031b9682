"""The deterministic exchange engine: messages, rules, order books, the Exchange state machine,
journal and replay. No clock reads, randomness, I/O or logging inside state transitions."""
