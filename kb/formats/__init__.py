"""Format readers, on the ground floor: bytes of BPF objects, BTF, kernel images, bpf.h in; structures out.

May import: kb.vocab and kb.formats.  Never the store, collectors, outputs or the face.
"""
