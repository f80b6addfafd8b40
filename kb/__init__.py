"""kbgen: the knowledge base of which eBPF features each Linux kernel has.

The modules directly in this package are the face: ``kb.api`` (functions that return data), ``kb.cli`` (click,
rendering what the API returns), ``kb.paths``.  Below them, each package says what it may import:
kb.vocab and kb.formats (ground floor), collectors, kb.store, then the outputs: kb.outputs, kb.scan, kb.site.

May import: kb, collectors.
"""

__version__ = "0.1.0"
