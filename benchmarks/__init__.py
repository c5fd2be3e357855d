"""Streaming benchmarks for responses_stream (not part of the installed package).

Run from the repository root: ``python -m benchmarks`` (full) or
``python -m benchmarks --smoke`` (CI correctness check). See README.md here.
"""
