"""Live probing of the running kernel through bpf(): program types, map types, and helpers per program type.

    from collectors.live import probe_live
    result = probe_live({"BPF_PROG_TYPE_XDP": 6}, {"BPF_MAP_TYPE_HASH": 1}, {"map_lookup_elem": 1})

See :mod:`collectors.live.probe` for what is probed and how it follows libbpf's probes.
"""

from collectors.live.probe import (
    BpfUnavailableError,
    HelperSupport,
    LiveProbe,
    Timing,
    Verdict,
    check_permitted,
    probe_live,
)

__all__ = ["BpfUnavailableError", "HelperSupport", "LiveProbe", "Timing", "Verdict", "check_permitted", "probe_live"]
