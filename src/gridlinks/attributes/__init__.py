"""Attribute scopes and values (SERVER_SCOPE, SHARED_SCOPE, CLIENT_SCOPE)."""
