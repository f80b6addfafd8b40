"""The shared vocabulary: item kinds, releases and versions, facts, errors.

The lowest floor of kbgen.  Modules here import the standard library and each other, nothing else of
kbgen: collectors produce these facts, the store keeps them, outputs read them.
"""
