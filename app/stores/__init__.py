"""Connections to the three stores: PostgreSQL, MongoDB (wire protocol) and Redis."""
