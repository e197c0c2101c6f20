// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tlstrace: the lifecycle. Check the host, prepare the output and the
 * writers, start COMMAND held, load the BPF programs and attach to what is
 * traced, then put the output in place, let COMMAND run and read records
 * until told to stop; at the end, report and free everything, and exit
 * with COMMAND's status or whether anything was lost. Each step is a
 * function of the file that owns it (probe/, run.c, report.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>
#include "options.h"
#include "run.h"
#include "probe/command.h"
#include "probe/host.h"
#include "probe/probes.h"
#include "probe/targets.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	if (stopping)
		_exit(128 + sig); /* a second Ctrl-C: at once */
	stopping = sig;
}

/* the tick that interrupts a write blocked on a reader that does not read */
static void on_tick(int sig)
{
	(void)sig;
}

/*
 * Signals interrupt system calls rather than restart them: Ctrl-C and
 * SIGTERM must stop a trace whose output blocks. A closed reader is an
 * error to count (EPIPE), not SIGPIPE's death.
 */
static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_tick;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * 128 + the signal that stopped the start; 1 if the run failed; else
 * COMMAND's status, unless it succeeded and entries were lost; 128 + the
 * signal that stopped the trace before COMMAND ended (it is left running);
 * else 1 if entries were lost.
 */
static int exit_status(int err, const struct command *cmd, bool lost)
{
	if (err == -EINTR && stopping)
		return 128 + stopping;
	if (err)
		return 1;
	if (cmd->done) {
		if (WIFEXITED(cmd->status))
			return WEXITSTATUS(cmd->status) || !lost ? WEXITSTATUS(cmd->status) : 1;
		if (WIFSIGNALED(cmd->status))
			return 128 + WTERMSIG(cmd->status);
	}
	if (cmd->pid > 0 && stopping)
		return 128 + stopping;
	return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct command cmd = { .pid = -1, .go = -1 }; /* none yet */
	struct probes pr = {};
	struct run run = {};
	bool lost;
	int err;

	options__parse(&o, argc, argv);
	/* a command that cannot run fails before anything is loaded, as a shell says it */
	if (o.command && (err = command__check(o.command)))
		return err;
	probes__set_verbose(o.verbose >= 2);
	if (targets__check_pids(&o) || host__check_privileges())
		return 1;

	handle_signals();
	host__raise_nofile();
	/* checked and created aside now; put in place once all else has started */
	if (run__prepare(&run, &o))
		return 1;
	err = run__open(&run, &o);
	if (err)
		goto cleanup;
	err = host__check_tracing();
	if (err)
		goto cleanup;
	err = probes__open(&pr);
	if (err)
		goto cleanup;
	targets__filter(&pr, &o);
	err = probes__load(&pr, &o, &stopping);
	if (err)
		goto cleanup;
	/*
	 * the command is forked once the programs are loaded, so that its
	 * start (its entries' timeOrigin) is not tlstrace's own set-up; it is
	 * held before exec until its probes are in place
	 */
	if (o.command) {
		err = command__spawn(&cmd, o.command);
		if (err)
			goto cleanup;
	}
	err = targets__select(&pr, &o, cmd.pid);
	if (err)
		goto cleanup;

	/* stopped while starting: nothing traced, the old output kept */
	if (stopping) {
		err = -EINTR;
		goto cleanup;
	}
	/* every check has passed: the output takes its place, records are read */
	err = run__start(&run, &o, &pr);
	if (err)
		goto cleanup;
	err = command__go(&cmd);
	if (err)
		goto cleanup;
	targets__announce(&o); /* scripts wait for this line: the probes are in place */
	err = run__loop(&run, &o, &cmd, &stopping);
	if (err)
		goto cleanup;
	run__finish(&run, &o);

cleanup:
	probes__detach_in_background(&pr, run.of.fd);
	command__free(&cmd, err != 0); /* a command not let go exits without running */
	probes__free(&pr);
	lost = run__close(&run, err);
	return exit_status(err, &cmd, lost);
}
