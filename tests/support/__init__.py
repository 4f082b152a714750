"""Helpers the tests share: real servers in subprocesses, throwaway store instances."""
