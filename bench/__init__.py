"""Benchmarks: every figure is a ratio against a peer measured side by side."""
