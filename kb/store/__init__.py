"""The store: facts in SQLite, merged per tree, and the questions every output asks of them.

May import: kb.vocab, kb.formats, kb.store and kb.data.  The shipped facts are kb.data.  Never collectors,
outputs, the site or the face.
"""
