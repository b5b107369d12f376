"""The benchmarks `make bench` runs: each prints its figures."""
