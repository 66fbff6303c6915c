"""The REST API: ThingsBoard's paths and JSON shapes, served by FastAPI."""
