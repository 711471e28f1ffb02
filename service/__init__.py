"""Adapters around the ``analysis`` pipeline: command line (and, later, HTTP and storage)."""
