"""BPF ELF objects and the BPF instruction set."""
