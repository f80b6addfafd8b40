// Built with -mcpu=v3: clang compares 32-bit values with BPF_JMP32 jumps (Linux 5.1).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int small_packets(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (len > 100)
		return 0;
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
