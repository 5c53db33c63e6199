"""Tests of the Numba simulation kernels against a pure-Python reference, invariants and hand-computed cases."""
