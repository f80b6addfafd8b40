"""Formats, on the ground floor: bytes of BPF objects, BTF, kernel images, bpf.h, libbpf.c in, structures out;
and files written as a set, atomically.

May import: kb.vocab and kb.formats.  Never the store, collectors, outputs or the face.
"""
