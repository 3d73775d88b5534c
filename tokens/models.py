"""Credentials: login sessions and personal access tokens (the `Token` table)."""
