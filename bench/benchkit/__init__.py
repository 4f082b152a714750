"""The benchmark harness behind bench/run (not part of the app, not part of the test suite)."""
