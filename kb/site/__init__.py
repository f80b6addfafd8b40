"""The Datasette site: the published database, its pages, canned queries, plugin and templates.

May import: kb.vocab, kb.formats, kb.store, kb.outputs and kb.site.  Never collectors, the scanner or the face.
"""
