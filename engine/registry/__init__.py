"""The registry (Decree 20 Art. 12-14, 21): cash in and out, allocation, surrender, cancellation,
carry-over, mergers and splits of accounts, and the registry files applied."""

from __future__ import annotations

from engine.registry.mechanism import ComplianceRecord, Registry, RegistryFileRecord, RegistryState

__all__ = ["ComplianceRecord", "Registry", "RegistryFileRecord", "RegistryState"]
