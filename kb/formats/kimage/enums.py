"""Magics and constants of kernel images, as data.

Sources: Documentation/arch/x86/boot.rst (the boot protocol), arch/x86/boot/header.S,
drivers/firmware/efi/libstub/zboot-header.S, arch/arm64/include/asm/image.h, lib/decompress_*.c and
scripts/Makefile.lib (how the kernel compresses its payloads), include/uapi/linux/btf.h.
"""

ELF_MAGIC = b"\x7fELF"
BTF_MAGIC_LE = b"\x9f\xeb"
BTF_MAGIC_BE = b"\xeb\x9f"
# What starts a BTF blob that pahole wrote: magic, version 1, flags 0, hdr_len 24; for finding one in a raw Image.
BTF_START = {"<": b"\x9f\xeb\x01\x00\x18\x00\x00\x00", ">": b"\xeb\x9f\x01\x00\x00\x00\x00\x18"}

# x86 boot protocol.
HDRS_MAGIC = b"HdrS"  # setup_header.header, at 0x202
BOOT_FLAG = 0xAA55  # setup_header.boot_flag, at 0x1FE
SECTOR_SIZE = 512
DEFAULT_SETUP_SECTS = 4  # setup_sects 0 means 4
SETUP_VERSION_BASE = 0x200  # kernel_version (0x20E) points this many bytes short of the string
MIN_PROTOCOL_VERSION_STRING = 0x0200  # kernel_version exists from 2.00
MIN_PROTOCOL_PAYLOAD = 0x0208  # payload_offset and payload_length exist from 2.08
MAX_VERSION_STRING = 512

# arm64 EFI zboot (a PE file whose payload is the compressed Image).
ZBOOT_MZ = b"MZ"
ZBOOT_IMAGE_TYPE = b"zimg"  # at offset 4
# Raw (not ELF) kernel Images: (offset, magic, name).
RAW_IMAGE_MAGICS = (
    (0x38, b"ARM\x64", "arm64 Image"),
    (0x30, b"RISCV\x00\x00\x00", "riscv Image"),
    (0x38, b"RSC\x05", "riscv Image"),
)

# Compressed payloads: codec -> magic at the start of the stream.
CODEC_MAGICS = {
    "gzip": b"\x1f\x8b",
    "xz": b"\xfd7zXZ\x00",
    "lzma": b"\x5d\x00\x00",
    "bzip2": b"BZh",
    "lz4": b"\x02\x21\x4c\x18",  # the legacy frame (lz4 -l), as the kernel writes it
    "zstd": b"\x28\xb5\x2f\xfd",
    "lzo": b"\x89LZO\x00\r\n\x1a\n",
}
# Codecs the kernel can use that kbgen does not read.
UNSUPPORTED_CODECS = {"lzo"}
# The package each codec needs, where the standard library has none.
CODEC_PACKAGES = {"zstd": "zstandard", "lz4": "lz4"}

LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_CHUNK = 8 << 20  # every block but the last decompresses to exactly this many bytes

# scripts/Makefile.lib appends the decompressed size, 4 bytes little endian, to every compressed payload.
SIZE_TRAILER = 4
# The most bytes of one kernel image held in memory: decompressed data, a file read whole (all but an ELF
# vmlinux), a tar member, an ELF's .BTF section.  No kernel comes near it; past it a stream is a decompression
# bomb.  What is compressed is a stripped vmlinux (x86 bzImage: 30-80 MB), an Image (arm64: ~40 MB) or a BTF
# tar (~5-10 MB); an uncompressed ELF vmlinux with debug information (hundreds of MB) is read lazily, unlimited.
MAX_SIZE = 512 << 20

# zstd (RFC 8878): the frame header is at most 18 bytes; then blocks, each behind a 3-byte little-endian header
# (bit 0: last block, bits 1-2: type, bits 3-23: size); a content checksum of 4 bytes may end the frame.
ZSTD_FRAME_HEADER_MAX = 18
ZSTD_BLOCK_HEADER = 3
ZSTD_BLOCK_RAW, ZSTD_BLOCK_RLE, ZSTD_BLOCK_COMPRESSED, ZSTD_BLOCK_RESERVED = range(4)
ZSTD_BLOCK_MAX = 128 << 10  # what one block decompresses to at most
ZSTD_CHECKSUM = 4
# A frame of more blocks than this is no kernel's (512 MiB is 4,096 full blocks): walking it would only cost time.
ZSTD_MAX_BLOCKS = 1 << 20
# The largest window decoded: the zstd tool's own default limit (windowLog 27, what -22 --ultra writes); a larger
# window is memory a bomb would make the decoder hold.
ZSTD_MAX_WINDOW = 1 << 27
# The memory the xz and lzma decoders may use: xz -9 and lzma -9 need 65 MiB (a 64 MiB dictionary).
LZMA_MEMLIMIT = 256 << 20
# The decompressed size an lzma header gives when it does not know it.
LZMA_SIZE_UNKNOWN = (1 << 64) - 1

# BTF magics tried in a raw Image before giving up: a real one's BTF is its first, or nearly.
MAX_BTF_CANDIDATES = 4096
# A BTFHub archive holds one BTF file: a tar of more members than this is something else.
MAX_TAR_MEMBERS = 1000

# tar (ustar): magic at 257.
TAR_MAGIC_OFFSET = 257
TAR_MAGIC = b"ustar"

# The banner every kernel has in .rodata: "Linux version 6.1.0-13-cloud-amd64 (debian-kernel@...) ... \n".
BANNER_PREFIX = b"Linux version "
RODATA_SECTION = ".rodata"
BTF_SECTION = ".BTF"
