"""Everything that reads outside sources: kernel git history, headers, BTF, reference facts, BPF objects.

Collectors return plain facts (dataclasses, lists, dicts); they never write the store or format output.
"""
