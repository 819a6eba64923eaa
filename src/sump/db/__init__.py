"""Database engine, metadata and portable column types."""
