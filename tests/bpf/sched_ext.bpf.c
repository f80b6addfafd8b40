// A sched_ext scheduler's struct_ops map (struct sched_ext_ops: Linux 6.12), attached through a link.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct;
struct sched_ext_ops {
	int (*select_cpu)(struct task_struct *p, int prev_cpu, __u64 wake_flags);
	char name[128];
};

SEC("struct_ops/pick")
int pick(unsigned long long *ctx)
{
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops minimal = {
	.select_cpu = (void *)pick,
	.name = "minimal",
};

char LICENSE[] SEC("license") = "GPL";
