"""Small shared pieces: errors, middleware, crypto, pagination, identifiers, rate limits, passwords."""
