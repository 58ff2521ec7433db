#include "nix_closure.h"
#include "cli.h"
#include "stowage/closure_cache.h"
#include "stowage/error.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_NIX_OUTPUT (512u << 20)

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 65536, used = 0;
	char *data = malloc(cap);
	for (;;) {
		ssize_t n;
		if (!data)
			return -1;
		if (used + 1 == cap) {
			char *grown = cap >= MAX_NIX_OUTPUT ? NULL : realloc(data, cap * 2);
			if (!grown) {
				free(data);
				return -1;
			}
			data = grown;
			cap *= 2;
		}
		n = read(fd, data + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(data);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	data[used] = 0;
	*out = data;
	*len = used;
	return 0;
}

/* The last non-empty line of nix's stderr, for a one-line message. */
static void last_line(char *text, size_t len, char *out, size_t out_len)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = 0;
	char *start = memrchr(text, '\n', len);
	snprintf(out, out_len, "%s", start ? start + 1 : text);
}

int nix_closure(struct stw_graph **out, char *const *paths, size_t count, const char *store_dir,
		const char *cache_dir)
{
	char **argv = calloc(count + 7, sizeof(char *));
	int out_pipe[2] = { -1, -1 };
	FILE *err_file = tmpfile();
	posix_spawn_file_actions_t actions;
	char *json = NULL, *err_text = NULL, message[512] = "";
	size_t json_len = 0, err_len = 0;
	pid_t pid;
	int status = 0, ret = 1, spawned = 0;

	*out = NULL;
	if (stw_closure_cache_get(out, cache_dir, store_dir, paths, count)) {
		ret = 0;
		goto out;
	}
	if (!argv || !err_file || pipe(out_pipe) < 0) {
		ret = cli_fail("cannot run nix: %s", strerror(errno));
		goto out;
	}
	argv[0] = "nix";
	argv[1] = "--extra-experimental-features";
	argv[2] = "nix-command";
	argv[3] = "path-info";
	argv[4] = "--json";
	argv[5] = "--recursive";
	for (size_t i = 0; i < count; i++)
		argv[6 + i] = paths[i];
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&actions, fileno(err_file), 2);
	posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
	errno = posix_spawnp(&pid, "nix", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(out_pipe[1]);
	out_pipe[1] = -1;
	if (errno) {
		ret = cli_fail("cannot run nix to compute the closure of '%s': %s (use --graph without Nix)", paths[0],
			       strerror(errno));
		goto out;
	}
	spawned = 1;
	if (read_all(out_pipe[0], &json, &json_len) < 0) {
		ret = cli_fail("cannot read the output of nix path-info");
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	spawned = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rewind(err_file);
		if (read_all(fileno(err_file), &err_text, &err_len) == 0)
			last_line(err_text, err_len, message, sizeof(message));
		ret = cli_fail("nix path-info failed for '%s'%s%s", paths[0], *message ? ": " : "", message);
		goto out;
	}
	if (stw_graph_parse(out, json, json_len, "nix path-info") < 0) {
		ret = cli_fail_lib();
		goto out;
	}
	stw_closure_cache_put(cache_dir, store_dir, paths, count, *out);
	ret = 0;
out:
	if (spawned)
		waitpid(pid, &status, 0);
	if (out_pipe[0] >= 0)
		close(out_pipe[0]);
	if (out_pipe[1] >= 0)
		close(out_pipe[1]);
	if (err_file)
		fclose(err_file);
	free(json);
	free(err_text);
	free(argv);
	return ret;
}
