// Calls two kfuncs (bpf_cpumask_create and bpf_cpumask_release, Linux 6.3) and a helper.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_cpumask;
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;

SEC("tp_btf/task_newtask")
int make_mask(void *ctx)
{
	struct bpf_cpumask *mask = bpf_cpumask_create();

	if (mask)
		bpf_cpumask_release(mask);
	return bpf_get_smp_processor_id() == 0;
}

char LICENSE[] SEC("license") = "GPL";
