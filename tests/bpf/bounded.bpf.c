// Calls two kfuncs whose first release is not established: the knowledge base knows only that Debian's 7.2 builds
// have them and its 6.12 builds lack them (bpf_get_root_mem_cgroup, bpf_put_mem_cgroup).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct mem_cgroup;
extern struct mem_cgroup *bpf_get_root_mem_cgroup(void) __ksym;
extern void bpf_put_mem_cgroup(struct mem_cgroup *memcg) __ksym;

SEC("syscall")
int root_cgroup(void *ctx)
{
	struct mem_cgroup *root = bpf_get_root_mem_cgroup();

	if (root)
		bpf_put_mem_cgroup(root);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
