"""Small pieces shared by every domain package (ids, errors, pagination)."""
