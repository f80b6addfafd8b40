// CO-RE relocations as libbpf-tools write them: a field read guarded by bpf_core_field_exists, with the
// ___old flavor of the struct for kernels before the field was renamed (task_struct.state -> __state, 5.14).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	unsigned int __state;
} __attribute__((preserve_access_index));

struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

SEC("tp/sched/sched_switch")
int on_switch(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	unsigned int state;

	if (bpf_core_field_exists(task->__state))
		state = BPF_CORE_READ(task, __state);
	else
		state = BPF_CORE_READ((struct task_struct___old *)task, state);
	bpf_printk("%d %u", BPF_CORE_READ(task, pid), state);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
