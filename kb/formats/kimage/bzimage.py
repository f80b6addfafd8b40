"""Boot headers: the x86 bzImage's setup header, and the arm64 EFI zboot header.

Both say where the compressed kernel lies in the file; the x86 header also points at the kernel's release
string ("6.1.0-13-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...").
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.formats.kimage import enums, structs
from kb.formats.kimage.errors import FormatError


@dataclass(frozen=True)
class Payload:
    offset: int  # in the file
    length: int
    protocol: str | None = None  # x86 boot protocol, "2.15"
    version_text: str | None = None  # the release string the boot header points at, None when it has none
    comp_type: str | None = None  # what a zboot header says the compression is


def _at(name: str) -> int:
    return structs.SETUP_HEADER_OFFSET + structs.offset_of(structs.SETUP_HEADER, name)


def read_boot_header(data) -> Payload:
    """The payload and release string of an x86 bzImage (*data* is the whole file)."""
    end = structs.SETUP_HEADER_OFFSET + structs.size(structs.SETUP_HEADER)
    if len(data) < end:
        raise FormatError(f"0x{len(data):x} bytes: too short for an x86 boot header (needs 0x{end:x})")
    hdr = structs.unpack(structs.SETUP_HEADER, data, structs.SETUP_HEADER_OFFSET)
    if hdr.header != enums.HDRS_MAGIC:
        raise FormatError(f"no boot header: {hdr.header!r} at 0x{_at('header'):x}, expected 'HdrS'")
    if hdr.boot_flag != enums.BOOT_FLAG:
        raise FormatError(f"boot header: boot_flag 0x{hdr.boot_flag:04x} at 0x{_at('boot_flag'):x}, expected 0xaa55")
    protocol = f"{hdr.version >> 8}.{hdr.version & 0xFF:02d}"
    if hdr.version < enums.MIN_PROTOCOL_PAYLOAD:
        raise FormatError(f"boot protocol {protocol} at 0x{_at('version'):x} has no payload_offset "
                          f"(needs 2.08 or later)")
    setup_sects = hdr.setup_sects or enums.DEFAULT_SETUP_SECTS
    kernel_start = (setup_sects + 1) * enums.SECTOR_SIZE
    offset, length = kernel_start + hdr.payload_offset, hdr.payload_length
    if length == 0:
        raise FormatError(f"boot header says the payload is empty (payload_length 0 at 0x{_at('payload_length'):x})")
    if offset + length > len(data):
        raise FormatError(f"boot header says payload at 0x{offset:x} (0x{length:x} bytes), past the end of the file "
                          f"(0x{len(data):x} bytes)")
    version_text = None
    if hdr.version >= enums.MIN_PROTOCOL_VERSION_STRING and hdr.kernel_version:
        version_text = _c_string(data, hdr.kernel_version + enums.SETUP_VERSION_BASE)
    return Payload(offset, length, protocol, version_text)


def read_zboot_header(data) -> Payload:
    """The payload of an arm64 EFI zboot image (a PE file that decompresses the Image it carries)."""
    end = structs.size(structs.ZBOOT_HEADER)
    if len(data) < end:
        raise FormatError(f"0x{len(data):x} bytes: too short for an EFI zboot header (needs 0x{end:x})")
    hdr = structs.unpack(structs.ZBOOT_HEADER, data, structs.ZBOOT_HEADER_OFFSET)
    comp_type = hdr.comp_type.split(b"\0")[0].decode("ascii", errors="replace")
    if hdr.payload_size == 0:
        raise FormatError("zboot header says the payload is empty (payload_size 0 at 0xc)")
    if hdr.payload_offset + hdr.payload_size > len(data):
        raise FormatError(f"zboot header says payload at 0x{hdr.payload_offset:x} (0x{hdr.payload_size:x} bytes), "
                          f"past the end of the file (0x{len(data):x} bytes)")
    return Payload(hdr.payload_offset, hdr.payload_size, comp_type=comp_type)


def _c_string(data, offset: int) -> str | None:
    if offset >= len(data):
        return None
    raw = bytes(data[offset : offset + enums.MAX_VERSION_STRING]).split(b"\0")[0]
    text = " ".join(raw.decode("ascii", errors="replace").split())
    return text or None
