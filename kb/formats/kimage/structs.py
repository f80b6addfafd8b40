"""The binary layouts of kernel images, declared in one place.

Each layout is a tuple of (field, struct format) in file order, so that a field's offset is computed, not
copied; :func:`unpack` returns a named tuple of the fields.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from functools import cache

# struct setup_header (arch/x86/include/uapi/asm/bootparam.h), little endian, at offset 0x1F1 of a bzImage.
SETUP_HEADER_OFFSET = 0x1F1
SETUP_HEADER = (
    ("setup_sects", "B"),  # 0x1F1: setup sectors after the boot sector; 0 means 4
    ("root_flags", "H"),
    ("syssize", "I"),
    ("ram_size", "H"),
    ("vid_mode", "H"),
    ("root_dev", "H"),
    ("boot_flag", "H"),  # 0x1FE: 0xAA55
    ("jump", "H"),
    ("header", "4s"),  # 0x202: "HdrS"
    ("version", "H"),  # 0x206: boot protocol, major << 8 | minor
    ("realmode_swtch", "I"),
    ("start_sys_seg", "H"),
    ("kernel_version", "H"),  # 0x20E: the release string is at this + 0x200 (protocol 2.00+)
    ("type_of_loader", "B"),
    ("loadflags", "B"),
    ("setup_move_size", "H"),
    ("code32_start", "I"),
    ("ramdisk_image", "I"),
    ("ramdisk_size", "I"),
    ("bootsect_kludge", "I"),
    ("heap_end_ptr", "H"),
    ("ext_loader_ver", "B"),
    ("ext_loader_type", "B"),
    ("cmd_line_ptr", "I"),
    ("initrd_addr_max", "I"),
    ("kernel_alignment", "I"),
    ("relocatable_kernel", "B"),
    ("min_alignment", "B"),
    ("xloadflags", "H"),
    ("cmdline_size", "I"),
    ("hardware_subarch", "I"),
    ("hardware_subarch_data", "Q"),
    ("payload_offset", "I"),  # 0x248: from the protected-mode kernel's start (protocol 2.08+)
    ("payload_length", "I"),  # 0x24C
    ("setup_data", "Q"),
    ("pref_address", "Q"),
    ("init_size", "I"),
    ("handover_offset", "I"),
    ("kernel_info_offset", "I"),  # 0x268 (protocol 2.15+)
)

# The header of an arm64 EFI zboot image (drivers/firmware/efi/libstub/zboot-header.S), little endian, at 0.
ZBOOT_HEADER_OFFSET = 0
ZBOOT_HEADER = (
    ("mz_magic", "4s"),  # "MZ\0\0"
    ("image_type", "4s"),  # "zimg"
    ("payload_offset", "I"),  # from the start of the file
    ("payload_size", "I"),
    ("reserved", "8s"),
    ("comp_type", "32s"),  # NUL-terminated: "gzip", "zstd", ...
)

# The header of an lzma (FORMAT_ALONE, "lzma -9") stream, little endian, at 0.
LZMA_ALONE_HEADER = (
    ("properties", "B"),
    ("dictionary_size", "I"),
    ("size", "Q"),  # decompressed; all ones when the writer did not know it (a pipe, as the kernel's build)
)

# The legacy lz4 frame (lz4 -l): a little-endian magic, then blocks, each a little-endian size then the block.
LZ4_LEGACY_WORD = "<I"
# scripts/Makefile.lib's size_append: the decompressed size after the compressed stream.
SIZE_TRAILER = "<I"


@cache
def _layout(layout: tuple) -> tuple[struct.Struct, type]:
    fmt = "<" + "".join(f for _name, f in layout)
    return struct.Struct(fmt), namedtuple("Layout", [name for name, _f in layout])


def size(layout: tuple) -> int:
    return _layout(layout)[0].size


def offset_of(layout: tuple, name: str) -> int:
    """A field's offset from the layout's start."""
    at = 0
    for field, fmt in layout:
        if field == name:
            return at
        at += struct.calcsize("<" + fmt)
    raise KeyError(name)


def unpack(layout: tuple, data, offset: int = 0):
    packer, record = _layout(layout)
    return record._make(packer.unpack_from(data, offset))
