// A GPL-only helper (bpf_get_current_task) in an object whose license is not GPL-compatible.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/do_exit")
int who(void *ctx)
{
	return bpf_get_current_task() != 0;
}

char LICENSE[] SEC("license") = "BSD";
