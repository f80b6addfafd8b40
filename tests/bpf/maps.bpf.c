// BTF-defined maps of types from several releases, plus one legacy bpf_map_def map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} commands SEC(".maps");

/* The pre-BTF way: a struct bpf_map_def in section "maps", as old loaders read it. */
struct legacy_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags;
};
struct legacy_map_def old_counts SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 1,
};

SEC("xdp")
int pass(struct xdp_md *ctx)
{
	__u32 pid = bpf_get_prandom_u32();
	__u64 *v = bpf_map_lookup_elem(&by_pid, &pid);

	if (v)
		bpf_ringbuf_output(&events, v, sizeof(*v), 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
