/*
 * sandbox.c: what the network child gives up before it reads a byte from
 * the network: root (setgid/setuid to [daemon] user), new privileges, core
 * files, descriptors past its budget, every path (Landlock: no file
 * access at all, and no TCP bind or connect where the kernel knows those),
 * and every system call it does not use (seccomp, through libseccomp).
 *
 * Sanitizer builds (ASan/UBSan, TSan, the fuzzers) skip Landlock and
 * seccomp: the sanitizers' runtime reads /proc and uses calls of its own.
 * Test builds (USERCA_TEST_CLOCK) also skip them when
 * USERCA_UNSANDBOXED=1 is in the environment; release builds never do.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "enrolld.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UC_SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define UC_SANITIZED	1
#endif
#endif
#ifndef UC_SANITIZED
#define UC_SANITIZED	0
#endif

/*
 * Landlock, defined here: Debian 12's headers stop at ABI 2, and the
 * network rights (ABI 4) need the larger ruleset attribute.
 */
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_FS_ABI1	((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER	(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE	(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV	(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP	(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)		/* ABI 4 */

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
};

int
sandbox_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	const char *name = user != NULL ? user : "userca";

	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res ==
	    NULL) {
		if (user != NULL)
			return uc_seterr(UC_E_NOTFOUND, "[daemon] user %s: no "
			    "such account", user);
		name = "nobody";
		if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 ||
		    res == NULL)
			return uc_seterr(UC_E_NOTFOUND, "neither account "
			    "userca nor nobody exists: set [daemon] user");
		fprintf(stderr, "userca-enrolld: warning: no account userca "
		    "and no [daemon] user: the network child runs as "
		    "nobody\n");
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0)
		return uc_seterr(UC_E_POLICY, "[daemon] user %s is root: the "
		    "network side never runs as root", name);
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return UC_OK;
}

int
sandbox_drop(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return uc_seterr(UC_E_IO, "cannot become uid %u: %s",
		    (unsigned)uid, strerror(errno));
	/* For good: no way back. */
	if (setuid(0) != -1 || getuid() == 0 || geteuid() == 0)
		return uc_seterr(UC_E_POLICY, "still root after dropping");
	return UC_OK;
}

static int
landlock(char *what, size_t len)
{
	struct ll_ruleset_attr attr;
	size_t size;
	long abi;
	int fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(what, len, "no Landlock (kernel)");
		return UC_OK;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = sizeof(attr);
	}
	/* Handled rights and no rule: nothing of them is allowed. */
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size,
	    0)) == -1)
		return uc_seterr(UC_E_IO, "landlock_create_ruleset: %s",
		    strerror(errno));
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		close(fd);
		return uc_seterr(UC_E_IO, "landlock_restrict_self: %s",
		    strerror(errno));
	}
	close(fd);
	snprintf(what, len, "Landlock ABI %ld (no files%s)", abi, abi >= 4 ?
	    ", no TCP bind/connect" : "");
	return UC_OK;
}

/*
 * What the child calls, found with strace -f over the daemon's routes
 * (after the filter: accept4 brk clone3 close epoll_create1 epoll_ctl
 * epoll_wait eventfd2 exit exit_group fcntl futex getpid getrandom
 * getsockname getsockopt getuid kill madvise mmap mprotect munmap poll
 * prctl read recvfrom rseq rt_sigaction rt_sigprocmask rt_sigtimedwait
 * sched_getaffinity sendmsg sendto set_robust_list setsockopt shutdown
 * write), and the neighbours glibc may take instead (clone, mremap,
 * writev, ppoll, clock_nanosleep for the drain's usleep...): memory,
 * threads, time, randomness, the socketpair and the accepted sockets,
 * polling.  Opening a file answers EACCES (glibc and GnuTLS probe
 * /etc/localtime, /dev/urandom and /sys/devices/system/cpu/online, and
 * fall back); anything else ends the process.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(lseek), SCMP_SYS(mmap), SCMP_SYS(munmap),
	SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(tgkill),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(fcntl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2),
	SCMP_SYS(pipe2), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(sysinfo), SCMP_SYS(restart_syscall),
};

static const int refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(statx),
	SCMP_SYS(socket),
};

/*
 * A call outside the filter: say which (so the list can be fixed from the
 * log), then end the process, as SCMP_ACT_KILL_PROCESS would.
 */
static void
refused_call(int sig, siginfo_t *si, void *ctx)
{
	char msg[96];
	ssize_t w = 0;
	int n;

	n = snprintf(msg, sizeof(msg), "userca-enrolld: network child: "
	    "system call %d is outside the seccomp filter\n", si->si_syscall);
	if (n > 0)
		w = write(STDERR_FILENO, msg, (size_t)n);
	(void)w;
	_exit(128 + sig);
}

static int
seccomp(void)
{
	struct sigaction sa;
	struct scmp_arg_cmp cmp;
	scmp_filter_ctx ctx;
	size_t i;
	int rc = UC_E_IO;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = refused_call;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return uc_seterr(UC_E_IO, "SIGSYS: %s", strerror(errno));
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "seccomp_init failed");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i] >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    allowed[i], 0) != 0)
			goto out;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (refused[i] >= 0 && seccomp_rule_add(ctx,
		    SCMP_ACT_ERRNO(EACCES), refused[i], 0) != 0)
			goto out;
	/* Thread names (libmicrohttpd's workers), nothing else of prctl. */
	memset(&cmp, 0, sizeof(cmp));
	cmp.arg = 0;
	cmp.op = SCMP_CMP_EQ;
	cmp.datum_a = PR_SET_NAME;
	if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    &cmp) != 0)
		goto out;
	/* Signals only to itself (the reload wake-up). */
	cmp.datum_a = (scmp_datum_t)getpid();
	if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
	    &cmp) != 0)
		goto out;
	/* Every thread, the ones libraries made already too. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_load(ctx) != 0)
		goto out;
	rc = UC_OK;
out:
	seccomp_release(ctx);
	if (rc != UC_OK)
		return uc_seterr(rc, "the seccomp filter could not be loaded");
	return UC_OK;
}

int
sandbox_enter(unsigned long nofile, char *what, size_t len)
{
	struct rlimit rl;
	char ll[96];
	int rc, full = !UC_SANITIZED;

#ifdef USERCA_TEST_CLOCK
	{
		const char *e = getenv("USERCA_UNSANDBOXED");

		if (e != NULL && strcmp(e, "1") == 0)
			full = 0;
	}
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return uc_seterr(UC_E_IO, "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return uc_seterr(UC_E_IO, "RLIMIT_CORE: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max = nofile;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return uc_seterr(UC_E_IO, "RLIMIT_NOFILE: %s",
		    strerror(errno));
	if (chdir("/") == -1)
		return uc_seterr(UC_E_IO, "chdir /: %s", strerror(errno));
	/* The sanitizers' leak check stops the threads with ptrace. */
	(void)prctl(PR_SET_DUMPABLE, full ? 0 : 1, 0, 0, 0);
	if (!full) {
		snprintf(what, len, "uid %u, no new privileges, no core, %lu "
		    "descriptors; no Landlock or seccomp (%s)",
		    (unsigned)getuid(), nofile, UC_SANITIZED ?
		    "sanitizer build" : "USERCA_UNSANDBOXED=1");
		return UC_OK;
	}
	if ((rc = landlock(ll, sizeof(ll))) != UC_OK ||
	    (rc = seccomp()) != UC_OK)
		return rc;
	snprintf(what, len, "uid %u, no new privileges, no core, %lu "
	    "descriptors, %s, seccomp (%zu calls)", (unsigned)getuid(), nofile,
	    ll, sizeof(allowed) / sizeof(allowed[0]) + 2);
	return UC_OK;
}
