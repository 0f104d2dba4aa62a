"""Benchmarks (``make bench``): each prints its figures side by side with the outside reference."""
