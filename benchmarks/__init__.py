"""Benchmarks: `python -m benchmarks.run` (a hospital-group-sized load, timed; see README
"Performance") and `python -m benchmarks.load_test` (concurrent browser sessions)."""
