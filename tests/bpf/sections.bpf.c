// Section names as libbpf reads them: one only libbpf before 1.0 loads (sloppy prefix matching), one no release
// loads, and a program not loaded by default (SEC("?..."), libbpf 0.8.0).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket/legacy")
int old_style(struct __sk_buff *skb)
{
	return 0;
}

SEC("hello/world")
int unknown(void *ctx)
{
	return 0;
}

SEC("?xdp")
int on_demand(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
