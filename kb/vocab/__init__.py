"""The shared vocabulary: item kinds, releases and versions, facts, errors.

The ground floor of kbgen: collectors produce these facts, the store keeps them, outputs read them.

May import: kb.vocab.  Nothing else of kbgen.
"""
