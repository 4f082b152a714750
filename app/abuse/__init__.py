"""Abuse protection: static query cost (cost.py) and a Redis rate limit charged by cost (ratelimit.py)."""
