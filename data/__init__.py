"""The shipped mainline knowledge base as reviewable text; installed as the package ``kb.data``."""
