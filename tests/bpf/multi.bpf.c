// Several programs, a BPF subprogram that calls a helper, and a helper id newer than any kernel knows.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static long (*bpf_from_the_future)(void *ctx) = (void *)999;

static __attribute__((noinline)) __u64 stamp(void)
{
	return bpf_ktime_get_boot_ns();
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_open(void *ctx)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	return stamp() & 1;
}

SEC("tracepoint/syscalls/sys_enter_close")
int on_close(void *ctx)
{
	return bpf_get_current_pid_tgid() == 0;
}

SEC("socket")
int sock(struct __sk_buff *skb)
{
	return bpf_from_the_future(skb) + bpf_skb_cgroup_classid(skb);
}

char LICENSE[] SEC("license") = "GPL";
