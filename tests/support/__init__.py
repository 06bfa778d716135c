"""Test support shared by the tests and the benchmarks (kept out of the product packages)."""
