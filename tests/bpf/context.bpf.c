// A helper the program type cannot call: bpf_skb_load_bytes (packet data) from a kprobe.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/tcp_sendmsg")
int misplaced(void *ctx)
{
	char byte;

	return bpf_skb_load_bytes(ctx, 0, &byte, 1);
}

char LICENSE[] SEC("license") = "GPL";
