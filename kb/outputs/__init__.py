"""Outputs that read the store: lookup tables (C, Python, JSON, macros), the export, text renderings, comparisons.

May import: kb.vocab, kb.formats, kb.store and kb.outputs.  Never collectors, the scanner, the site or the face.
"""
