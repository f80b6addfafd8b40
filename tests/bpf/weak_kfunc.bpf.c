// A weak kfunc guarded by an existence test (bpf_ksym_exists): optional, the program runs without it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

SEC("tp_btf/task_newtask")
int hold(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];

	if (!!bpf_task_acquire) {
		task = bpf_task_acquire(task);
		if (task)
			bpf_task_release(task);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
