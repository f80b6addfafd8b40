// Calls bpf_map_lookup_percpu_elem (helper 195, Linux 5.19): the call bpftrace once emitted unconditionally.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("kprobe/do_nanosleep")
int count_sleeps(void *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_percpu_elem(&counts, &key, 0);

	if (value)
		__sync_fetch_and_add(value, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
