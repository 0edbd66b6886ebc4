"""Idempotent service calls: an ``Idempotency-Key`` makes a retried M2M write answer what the
first call answered, without doing the work again."""
