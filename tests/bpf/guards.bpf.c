// Needs a program reaches only where a guard holds: a helper called only where LINUX_KERNEL_VERSION says the
// kernel has it (the pattern kbgen's own header suggests), and one called only where the target's enum
// bpf_func_id has it (bpf_core_enum_value_exists, as libbpf-tools' core_fixes.bpf.h does).  Both fall back to
// an older helper otherwise.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

extern int LINUX_KERNEL_VERSION __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int by_version(void *ctx)
{
	__u32 key = 0;
	__u64 *value;

	if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 19, 0))
		value = bpf_map_lookup_percpu_elem(&counts, &key, 0);
	else
		value = bpf_map_lookup_elem(&counts, &key);
	if (value)
		*value += 1;
	return 0;
}

static long count_one(__u32 index, void *data)
{
	*(__u64 *)data += index;
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int by_enum(void *ctx)
{
	__u64 sum = 0;
	__u32 n;

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)) {
		bpf_loop(8, count_one, &sum, 0);
	} else {
		for (n = 0; n < 8; n++)
			sum += n;
	}
	bpf_printk("%llu", sum);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
