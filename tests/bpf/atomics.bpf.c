// Atomic operations of the 5.12 instruction set: fetch-and-add, exchange, compare-exchange, fetch-or.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 counter, flags, owner;

SEC("kprobe/schedule")
int atomics(void *ctx)
{
	__u64 before = __sync_fetch_and_add(&counter, 1);
	__u64 old = __sync_lock_test_and_set(&owner, before);

	__sync_val_compare_and_swap(&owner, old, 0);
	return __sync_fetch_and_or(&flags, 4) & 1;
}

char LICENSE[] SEC("license") = "GPL";
