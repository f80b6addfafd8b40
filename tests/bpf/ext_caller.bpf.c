// Calls a BPF function another object defines (ext_callee.bpf.c): resolved when the two are linked
// (bpftool gen object), not a kfunc.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int shared_filter(__u32 pid);

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	return shared_filter(bpf_get_current_pid_tgid() >> 32);
}

char LICENSE[] SEC("license") = "GPL";
