// A global variable in .bss: libbpf makes an array map of the section (global data, Linux 5.2).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 opens;

SEC("kprobe/do_sys_openat2")
int count_opens(void *ctx)
{
	opens += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
