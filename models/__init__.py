"""Model files and their loaders (the vendored MediaPipe face models, checked by sha256)."""
