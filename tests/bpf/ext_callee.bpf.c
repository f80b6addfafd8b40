// Defines the BPF function ext_caller.bpf.c calls: a global subprogram (verified on its own from Linux 5.6).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int shared_filter(__u32 pid)
{
	return pid == 1;
}

char LICENSE[] SEC("license") = "GPL";
