"""What a file (or a decompressed payload) is, from its first bytes: never from its name."""

from __future__ import annotations

from kb.formats.kimage import enums, structs
from kb.formats.kimage.codecs import codec_of

BTF = "btf"
ELF = "elf"
BZIMAGE = "bzimage"
ZBOOT = "zboot"
TAR = "tar"
IMAGE = "image"  # a raw (not ELF) kernel Image: arm64, riscv
# Or a codec name from enums.CODEC_MAGICS: a compressed file.

# How many leading bytes identify() needs at most.
HEAD_SIZE = 4096

EXPECTED = ("raw BTF (magic 0xeb9f), an ELF vmlinux, an x86 bzImage ('HdrS' at 0x202), an arm64 zboot or Image, "
            "a compressed vmlinux or a .btf.tar.xz")


def identify(head) -> str | None:
    """One of the kinds above, a codec name, or None."""
    head = bytes(head[:HEAD_SIZE])
    if head[:2] in (enums.BTF_MAGIC_LE, enums.BTF_MAGIC_BE):
        return BTF
    if head.startswith(enums.ELF_MAGIC):
        return ELF
    hdrs = structs.SETUP_HEADER_OFFSET + structs.offset_of(structs.SETUP_HEADER, "header")
    if head[hdrs : hdrs + len(enums.HDRS_MAGIC)] == enums.HDRS_MAGIC:
        return BZIMAGE
    if head.startswith(enums.ZBOOT_MZ) and head[4:8] == enums.ZBOOT_IMAGE_TYPE:
        return ZBOOT
    codec = codec_of(head)
    if codec is not None:
        return codec
    at = enums.TAR_MAGIC_OFFSET
    if head[at : at + len(enums.TAR_MAGIC)] == enums.TAR_MAGIC:
        return TAR
    if raw_image_name(head):
        return IMAGE
    return None


def raw_image_name(head) -> str | None:
    """"arm64 Image" or "riscv Image" when *head* starts such an image, else None."""
    for offset, magic, name in enums.RAW_IMAGE_MAGICS:
        if bytes(head[offset : offset + len(magic)]) == magic:
            return name
    return None


def describe(head) -> str:
    """The first bytes in hex, for a message saying what was found instead."""
    return " ".join(f"{b:02x}" for b in bytes(head[:8])) or "nothing (empty)"
