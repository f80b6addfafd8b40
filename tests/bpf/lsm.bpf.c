// An LSM program (BPF_PROG_TYPE_LSM, Linux 5.7) and a sleepable one (lsm.s/, verifier.sleepable 5.10).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("lsm/file_open")
int check_open(void *ctx)
{
	return 0;
}

SEC("lsm.s/bprm_committed_creds")
int after_exec(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
