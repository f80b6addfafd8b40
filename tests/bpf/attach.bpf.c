// Program sections whose kernel minimum is not their program type's: a sleepable uprobe (6.0), a uprobe (4.3),
// sk_skb/verdict (attached as BPF_SK_SKB_VERDICT, 5.13) and sk_reuseport (4.19, through SO_ATTACH_REUSEPORT_EBPF).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe.s//bin/true:main")
int sleepy(void *ctx)
{
	return 0;
}

SEC("uprobe//bin/true:main")
int plain(void *ctx)
{
	return 0;
}

SEC("sk_skb/verdict")
int verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sk_reuseport")
int reuse(struct sk_reuseport_md *md)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
