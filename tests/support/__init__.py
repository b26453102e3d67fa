"""Test helpers: builders of real packages, models and hostile fixtures, shared by the tests and benchmarks."""
