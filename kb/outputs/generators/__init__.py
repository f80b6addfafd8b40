"""Generators of the lookup tables builds import (C, Python, JSON)."""
