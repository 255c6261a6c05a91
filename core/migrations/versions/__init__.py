"""One file per schema revision; generate with ``ristapo db revision -m "..." --autogenerate``."""
