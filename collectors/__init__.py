"""Collectors: read outside sources (kernel git history, reference files, a build's BTF, the running kernel) into facts.

May import: kb.vocab, kb.formats and collectors.  Collectors return plain facts (kb.vocab.facts); they never
write the store or format output.
"""
