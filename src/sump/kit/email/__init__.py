"""Email: a transactional outbox, delivered by a background worker through SMTP or the console."""
