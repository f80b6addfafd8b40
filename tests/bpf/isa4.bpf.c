// ISA v4 (clang 19, -mcpu=v4; Linux 6.6): signed division and modulo, sign-extending loads and moves, byte swap.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__s64 numbers[2];
__s8 small;

SEC("socket")
int v4(struct __sk_buff *skb)
{
	__s64 a = numbers[0], b = numbers[1];
	__s32 wide = (__s8)skb->len;

	if (b == 0)
		return 0;
	return a / b + a % b + small + wide + (int)__builtin_bswap64(a);
}

char LICENSE[] SEC("license") = "GPL";
