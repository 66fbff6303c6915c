"""Provisioning: demo data now; bulk import, claim codes and QR labels later."""
