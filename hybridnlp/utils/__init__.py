"""Helpers shared across layers: input validation (hybridnlp.utils.validation), atomic files
(io), config YAML (safe_yaml), names as paths (paths), devices, seeds, signals."""
