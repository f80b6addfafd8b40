// A struct_ops map (section .struct_ops, Linux 5.6) with its struct_ops programs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sock;
struct tcp_congestion_ops {
	void (*init)(struct sock *sk);
	__u32 (*ssthresh)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/slow_init")
void slow_init(struct sock *sk)
{
}

SEC("struct_ops/slow_ssthresh")
__u32 slow_ssthresh(struct sock *sk)
{
	return 2;
}

SEC(".struct_ops")
struct tcp_congestion_ops slow = {
	.init = (void *)slow_init,
	.ssthresh = (void *)slow_ssthresh,
	.name = "slow",
};

char LICENSE[] SEC("license") = "GPL";
