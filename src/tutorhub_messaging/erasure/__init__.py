"""Erasing a user at the user service's request (``DELETE /v1/m2m/users/{userId}``)."""
