// bpf_probe_read_kernel (helper 113, Linux 5.5): libbpf rewrites it to bpf_probe_read on older kernels.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/vfs_read")
int peek(void *ctx)
{
	long value = 0;

	bpf_probe_read_kernel(&value, sizeof(value), ctx);
	return value == 0;
}

char LICENSE[] SEC("license") = "GPL";
