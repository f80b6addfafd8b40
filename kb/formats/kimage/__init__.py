"""Kernel images: find the BTF (and the release string) in whatever file a kernel build comes as.

Raw BTF (``/sys/kernel/btf/vmlinux``), an ELF vmlinux, an x86 bzImage (``/boot/vmlinuz-*``) with any of the
kernel's payload codecs, an arm64 EFI zboot or plain compressed ``Image``, and BTFHub's ``.btf.tar.xz``:
:func:`read_kernel_btf` tells them apart by content.  One module per concept, as pyelftools does:

* :mod:`.structs` and :mod:`.enums`: the binary layouts and the magics, as data;
* :mod:`.detect`: what a file is, from its first bytes;
* :mod:`.codecs`: the kernel's compressors, streamed into one buffer;
* :mod:`.bzimage`: the x86 boot header, the arm64 zboot header;
* :mod:`.vmlinux`: the ELF vmlinux (its ``.BTF`` and its ``linux_banner``), a BTF blob inside a raw image;
* :mod:`.image`: the reader that puts them together.
"""

from kb.formats.kimage.errors import KernelImageError
from kb.formats.kimage.image import KernelBTF, read_kernel_btf

__all__ = ["KernelBTF", "KernelImageError", "read_kernel_btf"]
