"""Demo data for trying the service and its web client locally (development mode only)."""
