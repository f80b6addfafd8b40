// Needs a program reaches only where a guard holds: a helper called only where LINUX_KERNEL_VERSION says the
// kernel has it (the pattern kbgen's own header suggests), one called only where the target's enum
// bpf_func_id has it (bpf_core_enum_value_exists, as libbpf-tools' core_fixes.bpf.h does), both falling back to
// an older helper otherwise, and bpf_get_attach_cookie only where libbpf's LINUX_HAS_BPF_COOKIE says so (as
// libbpf's usdt.bpf.h does).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig; /* libbpf's: whether the kernel has bpf_get_attach_cookie */

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

SEC("kprobe/do_nanosleep")
int by_cookie(struct pt_regs *ctx)
{
	__u64 cookie = 0;

	if (LINUX_HAS_BPF_COOKIE)
		cookie = bpf_get_attach_cookie(ctx);
	bpf_printk("%llu", cookie);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
