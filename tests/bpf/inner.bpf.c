// A map of maps: the inner map's type (a ring buffer, Linux 5.8) is a need of its own.  And a map the object
// asks to be memory-mappable (BPF_F_MMAPABLE, Linux 5.5): libbpf drops that flag only from its own maps.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int pick(void *ctx)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&rings, &key) != 0;
}

char LICENSE[] SEC("license") = "GPL";
