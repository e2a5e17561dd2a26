"""Database: the only package that creates engines and sessions."""
