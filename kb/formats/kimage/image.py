"""read_kernel_btf: from any file a kernel build comes as, its BTF and the release string it states."""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass, field, replace

from kb.formats.btf.kernel import BuildItems, build_items
from kb.formats.btf.reader import BTF, BTFError, parse_btf, read_header
from kb.formats.kimage import bzimage, codecs, detect
from kb.formats.kimage.errors import FormatError, KernelImageError, one_line
from kb.formats.kimage.vmlinux import BufferStream, banner_version, find_banner, find_btf_blob, read_elf_btf

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
            if kind == detect.ELF:  # maybe hundreds of MB: read lazily
                return _from_elf(name, read_elf_btf(handle, os.fstat(handle.fileno()).st_size), "elf", None)
            data = handle.read()
        return _from_data(name, data, kind)
    except FormatError as err:
        raise KernelImageError(f"{name}: {one_line(err)}") from None
    except OSError as err:
        raise KernelImageError(f"{name}: cannot read it: {err.strerror or one_line(err)}") from None


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


def _from_elf(name: str, found, container: str, codec: str | None, **facts) -> KernelBTF:
    version, text = banner_version(found.banner)
    if version is not None and "version" not in facts:
        facts.update(version=version, version_text=text, version_source=FROM_BANNER)
    return _raw_btf(name, found.btf, container, codec, found.offset, machine=found.machine, **facts)


def _payload(data: bytes, payload: bzimage.Payload, what: str) -> tuple[str, bytearray]:
    view = memoryview(data)[payload.offset : payload.offset + payload.length]
    codec = codecs.codec_of(view)
    if codec is None:
        raise FormatError(f"{what} payload at 0x{payload.offset:x} starts with {detect.describe(view)}: no known "
                          f"compression magic (gzip, xz, lzma, bzip2, lz4, zstd)")
    try:
        return codec, codecs.decompress(codec, view)
    except FormatError as err:
        raise FormatError(f"{what} payload at 0x{payload.offset:x}: {err}") from None


def _from_bzimage(name: str, data: bytes) -> KernelBTF:
    payload = bzimage.read_boot_header(data)
    facts: dict = {"boot_protocol": payload.protocol}
    if payload.version_text:
        facts.update(version=payload.version_text.split()[0], version_text=payload.version_text,
                     version_source=FROM_BOOT_HEADER)
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
        version, text = banner_version(find_banner(stream, 0, len(image)))
    facts = {"version": version, "version_text": text, "version_source": FROM_BANNER} if version else {}
    return _raw_btf(name, blob, container, codec, offset, machine=machine, **facts)


def _from_tar(name: str, data, codec: str | None) -> KernelBTF:
    """BTFHub's archives: a tar holding one raw BTF file, named after the kernel release ("5.4.0-1009-aws.btf")."""
    suffix = f".{_TAR_SUFFIX[codec]}" if codec else ""
    where = f"btf.tar{suffix}"
    found = []
    try:
        with tarfile.open(fileobj=BufferStream(data), mode="r:") as archive:
            members = archive.getmembers()
            for member in members:
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None and handle.read(2) in (b"\x9f\xeb", b"\xeb\x9f"):
                        found.append(member)
            if len(found) != 1:
                listed = ", ".join(m.name for m in members[:5]) or "none"
                raise FormatError(f"{where}: holds {len(found)} raw BTF files, expected one (members: {listed})")
            member = found[0]
            blob = archive.extractfile(member).read()
    except tarfile.TarError as err:
        raise FormatError(f"{where}: unreadable tar: {one_line(err)}") from None
    release = os.path.basename(member.name)
    release = release.removesuffix(".btf")
    facts = {"version": release, "version_text": member.name, "version_source": FROM_ARCHIVE_NAME} if release else {}
    try:
        return _raw_btf(name, blob, where, codec, member.offset_data, **facts)
    except FormatError as err:
        raise FormatError(f"{where} member {member.name}: {err}") from None

