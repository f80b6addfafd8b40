// An fentry program: BPF_PROG_TYPE_TRACING with expected attach type BPF_TRACE_FENTRY (Linux 5.5).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/do_unlinkat")
int on_unlink(void *ctx)
{
	return bpf_get_current_pid_tgid() == 0;
}

char LICENSE[] SEC("license") = "GPL";
