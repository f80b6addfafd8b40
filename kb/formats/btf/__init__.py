"""A reader of the BPF Type Format (BTF), as found in objects and kernel images."""
