"""``kbgen scan``: what compiled BPF objects need of a kernel, judged against the store, and its reports.

May import: kb.vocab, kb.formats, kb.store, kb.outputs and kb.scan.  Never collectors, the site or the face.
"""
