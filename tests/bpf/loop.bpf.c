// A loop the compiler keeps: a back-edge the verifier accepts from Linux 5.3 (bounded loops).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_read")
int spin(void *ctx)
{
	__u32 sum = 0;

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 16; i++)
		sum ^= bpf_get_prandom_u32() & i;
	return sum;
}

char LICENSE[] SEC("license") = "GPL";
