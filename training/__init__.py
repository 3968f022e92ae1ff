"""Scripts that train the default models (dev-only, never packaged)."""
