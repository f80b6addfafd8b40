"""kbgen: the knowledge base of which eBPF features each Linux kernel has."""

__version__ = "0.1.0"
