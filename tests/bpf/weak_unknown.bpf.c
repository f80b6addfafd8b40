// A weak kfunc no kernel has (the knowledge base does not know it), called only where bpf_ksym_exists says the
// kernel has it: optional, the program runs everywhere.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_kbgen_made_up(int value) __ksym __weak;

SEC("tp/syscalls/sys_enter_getpid")
int maybe(void *ctx)
{
	int value = 1;

	if (!!bpf_kbgen_made_up)
		value = bpf_kbgen_made_up(value);
	bpf_printk("%d", value);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
