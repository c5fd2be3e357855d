"""The package version (read by setup.cfg, sent in the User-Agent)."""

__version__ = "0.1.0"
