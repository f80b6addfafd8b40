"""read_kernel_btf: from any file a kernel build comes as, its BTF and the release string it states."""

from __future__ import annotations

import os
import struct
import tarfile
from dataclasses import dataclass, field, replace

from kb.formats.btf.kernel import BuildItems, build_items
from kb.formats.btf.reader import BTF, BTFError, parse_btf, read_header
from kb.formats.kimage import bzimage, codecs, detect, enums, structs
from kb.formats.kimage.errors import FormatError, KernelImageError, one_line
from kb.formats.kimage.vmlinux import BufferStream, banner_version, find_banner, find_btf_blob, read_elf_btf
from kb.vocab.versions import Version, VersionError

# Where a release string came from (KernelBTF.version_source).
FROM_BOOT_HEADER = "boot header"
FROM_BANNER = "linux_banner"
FROM_ARCHIVE_NAME = "archive member name"

# The file suffix BTFHub's archives use for each codec: "btf.tar.xz".
_TAR_SUFFIX = {"gzip": "gz", "xz": "xz", "bzip2": "bz2", "zstd": "zst", "lzma": "lzma", "lz4": "lz4"}


@dataclass(frozen=True)
class KernelBTF:
    path: str
    container: str  # "btf", "elf", "bzimage+zstd", "elf+gzip", "zboot+gzip", "image+gzip", "btf.tar.xz", ...
    btf: bytes = field(repr=False)  # the raw BTF
    version: str | None = None  # the release the image states: "6.1.0-13-cloud-amd64"; None when it states none
    version_text: str | None = None  # the whole statement: "6.1.0-13-cloud-amd64 (debian-kernel@...) #1 SMP ..."
    version_source: str | None = None  # "boot header", "linux_banner" or "archive member name"
    codec: str | None = None  # "gzip", "xz", "lzma", "bzip2", "lz4", "zstd"; None when nothing was compressed
    decompressed_size: int | None = None  # bytes the codec gave (the vmlinux, Image or tar), when codec is set
    btf_offset: int = 0  # where the BTF starts: in the file, or in the decompressed data when codec is set
    byte_order: str = "<"  # of the BTF: "<" little, ">" big endian
    machine: str | None = None  # the vmlinux ELF's e_machine ("EM_X86_64"), or "arm64 Image"
    boot_protocol: str | None = None  # an x86 bzImage's boot protocol: "2.15"

    def parse(self) -> BTF:
        """The parsed BTF; a KernelImageError naming the file when it does not parse."""
        try:
            return parse_btf(self.btf)
        except BTFError as err:
            raise self._error(err) from None

    def items(self) -> BuildItems:
        """What the build has (helpers, BPF enums, kfuncs); a KernelImageError naming the file when its BTF is bad."""
        btf = self.parse()
        try:
            return build_items(btf)
        except BTFError as err:
            raise self._error(err) from None

    def _error(self, err: BTFError) -> KernelImageError:
        within = f" of the {self.codec}-decompressed data" if self.codec else ""
        return KernelImageError(f"{self.path}: BTF at 0x{self.btf_offset:x}{within}: {one_line(err)}")


def read_kernel_btf(path: str | os.PathLike) -> KernelBTF:
    """The BTF of the kernel image at *path*, whatever kind of image it is (told by content, not name).

    Raises :class:`KernelImageError`, one line naming the file and where it broke, for anything that is not a
    kernel image with BTF.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            head = handle.read(detect.HEAD_SIZE)
            kind = detect.identify(head)
            handle.seek(0)
            size = os.fstat(handle.fileno()).st_size
            if kind == detect.ELF:  # maybe hundreds of MB: read lazily
                return _from_elf(name, read_elf_btf(handle, size), "elf", None)
            if size > enums.MAX_SIZE:
                raise FormatError(f"0x{size:x} bytes, more than the {enums.MAX_SIZE >> 20} MiB of any kernel image "
                                  f"read whole ({detect.describe(head)} at 0x0)")
            data = handle.read()
        return _from_data(name, data, kind)
    except FormatError as err:
        raise KernelImageError(f"{name}: {one_line(err)}") from None
    except OSError as err:
        raise KernelImageError(f"{name}: cannot read it: {err.strerror or one_line(err)}") from None
    except MemoryError:
        raise KernelImageError(f"{name}: not enough memory to read it (kbgen holds at most "
                               f"{enums.MAX_SIZE >> 20} MiB of an image, and a copy or two)") from None


def _from_data(name: str, data: bytes, kind: str | None) -> KernelBTF:
    if kind == detect.BTF:
        return _raw_btf(name, data, "btf", None, 0)
    if kind == detect.BZIMAGE:
        return _from_bzimage(name, data)
    if kind == detect.ZBOOT:
        return _from_zboot(name, data)
    if kind == detect.TAR:
        return _from_tar(name, data, None)
    if kind == detect.IMAGE:
        return _from_raw_image(name, data, "image", None, detect.raw_image_name(data))
    if kind is not None:  # a codec: a compressed vmlinux, Image, BTF or tar
        return _from_compressed(name, data, kind)
    raise FormatError(f"not a kernel image: expected {detect.EXPECTED}; found {detect.describe(data)} at 0x0")


def _raw_btf(name: str, btf, container: str, codec: str | None, offset: int, **facts) -> KernelBTF:
    try:
        header = read_header(btf)
    except BTFError as err:
        within = f" of the {codec}-decompressed data" if codec else ""
        raise FormatError(f"BTF at 0x{offset:x}{within}: {one_line(err)}") from None
    blob = bytes(btf[: header.size])
    return KernelBTF(name, container, blob, codec=codec, btf_offset=offset, byte_order=header.byte_order, **facts)


def _stated(version: str | None, text: str | None, source: str) -> dict:
    """The release facts an image states, when what it states reads as a kernel release (else none)."""
    try:
        Version.parse(version or "")
    except VersionError:
        return {}
    return {"version": version, "version_text": text, "version_source": source}


def _from_elf(name: str, found, container: str, codec: str | None, **facts) -> KernelBTF:
    if "version" not in facts:
        facts.update(_stated(*banner_version(found.banner), FROM_BANNER))
    return _raw_btf(name, found.btf, container, codec, found.offset, machine=found.machine, **facts)


def _payload(data: bytes, payload: bzimage.Payload, what: str) -> tuple[str, bytearray]:
    view = memoryview(data)[payload.offset : payload.offset + payload.length]
    codec = codecs.codec_of(view)
    if codec is None:
        raise FormatError(f"{what} payload at 0x{payload.offset:x} starts with {detect.describe(view)}: no known "
                          f"compression magic (gzip, xz, lzma, bzip2, lz4, zstd)")
    try:
        if what == "bzImage":
            _check_size_trailer(view)
        return codec, codecs.decompress(codec, view)
    except FormatError as err:
        raise FormatError(f"{what} payload at 0x{payload.offset:x}: {err}") from None


def _check_size_trailer(payload: memoryview) -> None:
    """An x86 payload ends with its decompressed size (the boot code sizes its buffer by it): refuse a bomb
    that says what it is before decompressing it."""
    if len(payload) >= enums.SIZE_TRAILER:
        (size,) = struct.unpack(structs.SIZE_TRAILER, payload[-enums.SIZE_TRAILER :])
        if size > enums.MAX_SIZE:
            raise FormatError(f"its size trailer says it decompresses to 0x{size:x} bytes, more than the "
                              f"{enums.MAX_SIZE >> 20} MiB of any kernel")


def _from_bzimage(name: str, data: bytes) -> KernelBTF:
    payload = bzimage.read_boot_header(data)
    facts: dict = {"boot_protocol": payload.protocol}
    if payload.version_text:
        facts.update(_stated(payload.version_text.split()[0], payload.version_text, FROM_BOOT_HEADER))
    codec, vmlinux = _payload(data, payload, "bzImage")
    del data
    if detect.identify(vmlinux) != detect.ELF:
        raise FormatError(f"bzImage payload at 0x{payload.offset:x} decompresses ({codec}, 0x{len(vmlinux):x} "
                          f"bytes) to something that is not an ELF vmlinux: {detect.describe(vmlinux)}")
    with BufferStream(vmlinux) as stream:
        found = _elf_within(stream, len(vmlinux), codec)
    return _from_elf(name, found, f"bzimage+{codec}", codec, decompressed_size=len(vmlinux), **facts)


def _elf_within(stream, size: int, codec: str):
    try:
        return read_elf_btf(stream, size, search_all=True)
    except FormatError as err:
        raise FormatError(f"{codec}-decompressed vmlinux: {err}") from None


def _from_zboot(name: str, data: bytes) -> KernelBTF:
    payload = bzimage.read_zboot_header(data)
    codec, image = _payload(data, payload, "zboot")
    del data
    return replace(_from_decompressed(name, image, "zboot", codec), decompressed_size=len(image))


def _from_compressed(name: str, data: bytes, codec: str) -> KernelBTF:
    inner = codecs.decompress(codec, data)
    del data
    return replace(_from_inner(name, inner, codec), decompressed_size=len(inner))


def _from_inner(name: str, inner: bytearray, codec: str) -> KernelBTF:
    kind = detect.identify(inner)
    if kind == detect.BTF:
        return _raw_btf(name, inner, f"btf+{codec}", codec, 0)
    if kind == detect.TAR:
        return _from_tar(name, inner, codec)
    if kind in (detect.ELF, detect.IMAGE):
        return _from_decompressed(name, inner, None, codec)
    raise FormatError(f"{codec}-compressed, but what it holds (0x{len(inner):x} bytes) is no kernel: expected an "
                      f"ELF vmlinux, an arm64 or riscv Image, raw BTF or a tar of it; found {detect.describe(inner)}")


def _from_decompressed(name: str, image: bytearray, wrapper: str | None, codec: str) -> KernelBTF:
    """A decompressed zboot payload or compressed file: an ELF vmlinux, or a raw Image with BTF inside."""
    if detect.identify(image) == detect.ELF:
        with BufferStream(image) as stream:
            found = _elf_within(stream, len(image), codec)
        return _from_elf(name, found, f"{wrapper or 'elf'}+{codec}", codec)
    machine = detect.raw_image_name(image)
    if machine is None and wrapper is None:
        raise FormatError(f"{codec}-decompressed data is not a kernel: {detect.describe(image)}")
    return _from_raw_image(name, image, f"{wrapper or 'image'}+{codec}", codec, machine)


def _from_raw_image(name: str, image, container: str, codec: str | None, machine: str | None) -> KernelBTF:
    try:
        offset, blob = find_btf_blob(image)
    except FormatError as err:
        within = f"{codec}-decompressed " if codec else ""
        raise FormatError(f"{within}{machine or 'image'} (0x{len(image):x} bytes): {err}") from None
    with BufferStream(image) as stream:
        facts = _stated(*banner_version(find_banner(stream, 0, len(image))), FROM_BANNER)
    return _raw_btf(name, blob, container, codec, offset, machine=machine, **facts)


def _from_tar(name: str, data, codec: str | None) -> KernelBTF:
    """BTFHub's archives: a tar holding one raw BTF file, named after the kernel release ("5.4.0-1009-aws.btf")."""
    suffix = f".{_TAR_SUFFIX[codec]}" if codec else ""
    where = f"btf.tar{suffix}"
    try:
        with tarfile.open(fileobj=BufferStream(data), mode="r:") as archive:
            member = _btf_member(archive, where)
            if member.size > enums.MAX_SIZE:
                raise FormatError(f"{where} member {member.name}: says 0x{member.size:x} bytes, more than the "
                                  f"{enums.MAX_SIZE >> 20} MiB of any kernel's BTF")
            blob = archive.extractfile(member).read()
    except tarfile.TarError as err:
        raise FormatError(f"{where}: unreadable tar: {one_line(err)}") from None
    release = os.path.basename(member.name).removesuffix(".btf")
    facts = _stated(release, member.name, FROM_ARCHIVE_NAME)
    try:
        return _raw_btf(name, blob, where, codec, member.offset_data, **facts)
    except FormatError as err:
        raise FormatError(f"{where} member {member.name}: {err}") from None


def _btf_member(archive: tarfile.TarFile, where: str) -> tarfile.TarInfo:
    """The one member that is raw BTF (by its first bytes: 2 are read of each, whatever size it says)."""
    found, names = [], []
    for count, member in enumerate(archive):
        if count == enums.MAX_TAR_MEMBERS:
            raise FormatError(f"{where}: more than {enums.MAX_TAR_MEMBERS} members, not a BTF archive")
        names.append(member.name)
        if member.isfile():
            handle = archive.extractfile(member)
            if handle is not None and handle.read(2) in (enums.BTF_MAGIC_LE, enums.BTF_MAGIC_BE):
                found.append(member)
    if len(found) != 1:
        listed = ", ".join(names[:5]) or "none"
        raise FormatError(f"{where}: holds {len(found)} raw BTF files, expected one (members: {listed})")
    return found[0]
