"""Scripts that install and start real Responses API servers for ``tests/test_real_servers.py``
(see ``SOURCES.md``)."""
