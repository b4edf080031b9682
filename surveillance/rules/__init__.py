"""The surveillance rules (docs/SURVEILLANCE.md "Rules"): one module per family of RULES.md "Surveillance".

Each module has ``RULE_IDS`` (the rule names its alerts carry) and
``detect(con, day, settings) -> list[Alert]``, which reads the store for trading day ``day`` (and,
where the rule looks back, earlier days) and returns every alert of that day. Rules are pure
queries: same store, same settings, same alerts.
"""
