"""The ``gridlinks`` command: thin commands over bootstrap and the services."""
