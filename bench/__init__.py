"""Benchmarks with figures (not tests): `make bench`, `make bench-full`; see docs/benchmarks.md."""
