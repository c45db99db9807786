"""HeHo's REST API, mounted on the Reflex backend under /api/v1."""

API_PREFIX = "/api/v1"
