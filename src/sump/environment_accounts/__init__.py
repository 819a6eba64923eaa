"""Environment accounts: the end users of the builder's application, one pool per environment."""
