"""Tenants, customers, users, sign-in, user groups, roles and the one permission check."""
