/*
 * SIGINT, SIGTERM and SIGHUP: the process removes the temporary files and
 * staging directories of the writes in progress (stw_remove_temporaries)
 * and exits with 128 + the signal, so an interrupted copy leaves neither a
 * partial destination nor debris beside it. The handler only writes the
 * signal number to a pipe; a thread does the work outside signal context.
 */
#include "cli.h"
#include "stowage/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;
	(void)!write(signal_pipe[1], &b, 1);
	errno = saved;
}

static void *watch(void *arg)
{
	unsigned char sig;
	ssize_t n;
	(void)arg;
	do
		n = read(signal_pipe[0], &sig, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return NULL;
	stw_remove_temporaries();
	fprintf(stderr, "stowage: interrupted (%s): nothing was left half-written\n", strsignal(sig));
	_exit(128 + sig);
	return NULL;
}

void cli_cleanup_on_signals(void)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	pthread_t thread;

	if (pipe2(signal_pipe, O_CLOEXEC) < 0 || pthread_create(&thread, NULL, watch, NULL) != 0)
		return; /* then the default actions stay */
	pthread_detach(thread);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}
