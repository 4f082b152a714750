"""Authentication (bearer tokens) and authorization (the permission matrix in permissions.py)."""
