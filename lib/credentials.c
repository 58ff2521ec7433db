#include "credentials.h"

#include "buf.h"
#include "error.h"
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DOCKER_HUB_URL "https://index.docker.io/v1/"
#define TOKEN_USERNAME "<token>"
/* A host name (253) with a port; also keeps the helper's stdin, written
 * before the helper starts, far below any pipe's capacity. */
#define HOST_MAX 300
#define HELPER_NAME_MAX 64

static void free_secret(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static void buf_release_secret(struct buf *b)
{
	if (b->cap)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

void registry_credentials_release(struct registry_credentials *c)
{
	if (!c)
		return;
	free_secret(&c->username);
	free_secret(&c->password);
	free_secret(&c->identity_token);
}

/* Docker's "<token>" username: the secret is an identity (refresh) token. */
static void apply_token_username(struct registry_credentials *c)
{
	if (!c->username || strcmp(c->username, TOKEN_USERNAME))
		return;
	if (!c->identity_token) {
		c->identity_token = c->password;
		c->password = NULL;
	}
	free_secret(&c->username);
	free_secret(&c->password);
	if (c->identity_token && !*c->identity_token)
		free_secret(&c->identity_token);
}

static int is_docker_hub(const char *host, size_t len)
{
	static const char *const names[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncasecmp(host, names[i], len))
			return 1;
	return 0;
}

static int same_registry(const char *a, size_t a_len, const char *host)
{
	size_t len = strlen(host);
	if (a_len == len && !strncasecmp(a, host, len))
		return 1;
	return is_docker_hub(a, a_len) && is_docker_hub(host, len);
}

/* Does a credHelpers/auths key name host? See credentials.h for the shapes. */
static int key_matches(const char *key, const char *host)
{
	static const char *const suffixes[] = { "/", "/v1", "/v1/", "/v2", "/v2/" };
	const char *slash;
	size_t len;

	if (!strncasecmp(key, "https://", 8))
		key += 8;
	else if (!strncasecmp(key, "http://", 7))
		key += 7;
	slash = strchr(key, '/');
	len = slash ? (size_t)(slash - key) : strlen(key);
	if (slash) {
		int known = 0;
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			known |= !strcmp(slash, suffixes[i]);
		if (!known)
			return 0;
	}
	return len && same_registry(key, len, host);
}

/*
 * Calls fn on the entries of map that name host: the key equal to host
 * first, then the other matching keys in file order, until fn returns
 * non-zero (1: stop, -1: error), which is returned.
 */
static int for_each_match(json_t *map, const char *host, int (*fn)(json_t *value, void *ctx), void *ctx)
{
	json_t *exact = json_object_get(map, host), *value;
	const char *key;
	int r;

	if (exact && (r = fn(exact, ctx)) != 0)
		return r;
	json_object_foreach(map, key, value) {
		if (value == exact || !key_matches(key, host))
			continue;
		if ((r = fn(value, ctx)) != 0)
			return r;
	}
	return 0;
}

struct lookup {
	struct registry_credentials *out;
	int *found;
	const char *path; /* the config file, for messages */
	const char *host;
	const char *helper; /* credHelpers: the chosen helper */
};

static int valid_host(const char *host)
{
	size_t len = host ? strnlen(host, HOST_MAX + 1) : 0;

	if (!len || len > HOST_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (host[i] <= ' ' || host[i] >= 0x7f || host[i] == '/')
			return 0;
	return 1;
}

static int valid_helper_name(const char *name)
{
	size_t len = strnlen(name, HELPER_NAME_MAX + 1);

	if (!len || len > HELPER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* {"Username":..,"Secret":..} from a helper into l->out. */
static int parse_helper_answer(struct lookup *l, const char *program, const struct buf *output)
{
	struct registry_credentials *out = l->out;
	json_t *root, *username, *secret;
	json_error_t err;
	int ret = -1;

	root = json_loadb(output->data, output->len, 0, &err);
	username = json_object_get(root, "Username");
	secret = json_object_get(root, "Secret");
	if (!json_is_object(root) || !json_is_string(username) || !json_is_string(secret)) {
		stw_error("credential helper '%s' (from credentials file '%s') gave an answer that is not "
			  "{\"Username\":..,\"Secret\":..}", program, l->path);
		goto out;
	}
	if (!json_string_length(username) && !json_string_length(secret)) {
		ret = 0; /* nothing stored */
		goto out;
	}
	out->username = strdup(json_string_value(username));
	out->password = strdup(json_string_value(secret));
	if (!out->username || !out->password) {
		registry_credentials_release(out);
		stw_error("out of memory");
		goto out;
	}
	apply_token_username(out);
	*l->found = 1;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* How long a credential helper may take to answer (a helper waiting on a
 * keyring prompt that never comes must not hang a CI job forever);
 * $STOWAGE_CREDENTIAL_HELPER_TIMEOUT (seconds) overrides it. */
#define HELPER_TIMEOUT_S 60

static int helper_timeout_ms(void)
{
	const char *env = getenv("STOWAGE_CREDENTIAL_HELPER_TIMEOUT");
	long s = env && *env ? strtol(env, NULL, 10) : HELPER_TIMEOUT_S;
	return (int)(s > 0 && s < 3600 ? s : HELPER_TIMEOUT_S) * 1000;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads the helper's stdout to its end: 0, -1 (too big, read error) or
 * -2 when the deadline passed first. */
static int read_helper_output(struct buf *out, int fd, size_t max)
{
	long long deadline = now_ms() + helper_timeout_ms();

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		int rc;
		if (left <= 0)
			return -2;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		if (rc == 0)
			return -2;
		if (buf_grow(out, 4096) < 0)
			return -1;
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = 0;
		if (out->len > max)
			return -1;
	}
}

/*
 * Runs docker-credential-<name> get. The server URL is written into the
 * stdin pipe before the helper starts (it is far smaller than a pipe's
 * buffer), so a helper that exits without reading cannot raise SIGPIPE
 * here. Only "get" is on the command line.
 */
static int run_helper(struct lookup *l, const char *name)
{
	char program[sizeof("docker-credential-") + HELPER_NAME_MAX];
	static char get_arg[] = "get";
	char *argv[] = { program, get_arg, NULL };
	const char *url = is_docker_hub(l->host, strlen(l->host)) ? DOCKER_HUB_URL : l->host;
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t actions;
	int actions_ready = 0, spawned = 0, status = 0, read_failed, err, ret = -1;
	struct buf output;
	pid_t pid = -1;

	buf_init(&output);
	if (!valid_helper_name(name))
		return stw_error("credentials file '%s' names an invalid credential helper", l->path);
	snprintf(program, sizeof(program), "docker-credential-%s", name);

	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		stw_error_errno("cannot run credential helper '%s'", program);
		goto out;
	}
	if (write_all(in_pipe[1], url, strlen(url)) < 0) {
		stw_error_errno("cannot run credential helper '%s'", program);
		goto out;
	}
	close(in_pipe[1]);
	in_pipe[1] = -1;

	err = posix_spawn_file_actions_init(&actions);
	actions_ready = !err;
	if (!err)
		err = posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
	if (!err)
		err = posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
	if (!err)
		err = posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	if (!err)
		err = posix_spawnp(&pid, program, &actions, NULL, argv, environ);
	close(in_pipe[0]);
	close(out_pipe[1]);
	in_pipe[0] = out_pipe[1] = -1;
	if (err) {
		errno = err;
		stw_error_errno("cannot run credential helper '%s' (from credentials file '%s')", program, l->path);
		goto out;
	}
	spawned = 1;

	read_failed = read_helper_output(&output, out_pipe[0], CREDENTIALS_HELPER_OUTPUT_MAX);
	if (read_failed)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	spawned = 0;
	if (read_failed == -2) {
		stw_error("credential helper '%s' (from credentials file '%s') did not answer within %d s", program,
			  l->path, helper_timeout_ms() / 1000);
		goto out;
	}
	if (read_failed) {
		stw_error("cannot read the answer of credential helper '%s' (from credentials file '%s'): "
			  "more than %d bytes or a read error", program, l->path, CREDENTIALS_HELPER_OUTPUT_MAX);
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
	    memmem(output.data, output.len, "credentials not found", 21)) {
		ret = 0; /* not found: *l->found stays 0 */
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !output.len) {
		/* POSIX lets posix_spawnp report an exec failure this way (valgrind's does) */
		stw_error("cannot run credential helper '%s' (from credentials file '%s'): not found or not executable",
			  program, l->path);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			stw_error("credential helper '%s' (from credentials file '%s') failed with exit status %d",
				  program, l->path, WEXITSTATUS(status));
		else
			stw_error("credential helper '%s' (from credentials file '%s') was killed by signal %d",
				  program, l->path, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		goto out;
	}
	ret = parse_helper_answer(l, program, &output);
out:
	if (spawned) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (actions_ready)
		posix_spawn_file_actions_destroy(&actions);
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	buf_release_secret(&output);
	return ret;
}

static int choose_cred_helper(json_t *value, void *ctx)
{
	struct lookup *l = ctx;

	if (!json_is_string(value))
		return stw_error("credentials file '%s': a \"credHelpers\" value is not a string", l->path);
	if (!json_string_length(value))
		return 0;
	l->helper = json_string_value(value);
	return 1;
}

/* Strict standard base64 (padded, no whitespace): EVP_DecodeBlock alone
 * would take '=' mid-string and surrounding whitespace. */
static int valid_base64(const char *s, size_t len)
{
	size_t pad = 0;

	if (!len || len % 4 || len > INT_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
			     c == '/'))
			return 0;
	}
	return pad <= 2;
}

/* "auth": base64("user:pass") into out. */
static int decode_auth(struct registry_credentials *out, const char *b64, size_t len, const char *path)
{
	size_t plain_cap = len / 4 * 3 + 1;
	unsigned char *plain = NULL;
	const char *colon = NULL;
	int n, ret = -1;

	if (valid_base64(b64, len)) {
		if (!(plain = malloc(plain_cap)))
			return stw_error("out of memory");
		/* DecodeBlock counts the padding as zero bytes */
		n = EVP_DecodeBlock(plain, (const unsigned char *)b64, (int)len);
		if (n >= 0) {
			n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');
			plain[n] = 0;
			if (!memchr(plain, 0, (size_t)n))
				colon = memchr(plain, ':', (size_t)n);
		}
	}
	if (!colon || colon == (char *)plain) {
		stw_error("credentials file '%s': an \"auth\" value for this registry is not base64 of USER:PASS",
			  path);
		goto out;
	}
	out->username = strndup((char *)plain, (size_t)(colon - (char *)plain));
	out->password = strdup(colon + 1);
	if (!out->username || !out->password) {
		registry_credentials_release(out);
		stw_error("out of memory");
		goto out;
	}
	ret = 0;
out:
	if (plain) {
		explicit_bzero(plain, plain_cap);
		free(plain);
	}
	return ret;
}

static int optional_string(json_t **out, json_t *entry, const char *field, const char *path)
{
	*out = json_object_get(entry, field);
	if (*out && !json_is_string(*out) && !json_is_null(*out))
		return stw_error("credentials file '%s': an \"auths\" entry's \"%s\" is not a string", path, field);
	if (*out && !json_string_length(*out))
		*out = NULL;
	return 0;
}

/* One auths entry: 1 when it holds credentials (now in l->out), 0 when not. */
static int use_auths_entry(json_t *entry, void *ctx)
{
	struct lookup *l = ctx;
	struct registry_credentials *out = l->out;
	json_t *auth, *username, *password, *token;

	if (!json_is_object(entry))
		return stw_error("credentials file '%s': an \"auths\" entry for this registry is not an object", l->path);
	if (optional_string(&auth, entry, "auth", l->path) < 0 ||
	    optional_string(&username, entry, "username", l->path) < 0 ||
	    optional_string(&password, entry, "password", l->path) < 0 ||
	    optional_string(&token, entry, "identitytoken", l->path) < 0)
		return -1;
	if (auth) {
		if (decode_auth(out, json_string_value(auth), json_string_length(auth), l->path) < 0)
			return -1;
	} else if (username && password) {
		out->username = strdup(json_string_value(username));
		out->password = strdup(json_string_value(password));
		if (!out->username || !out->password)
			goto oom;
	}
	if (token && !(out->identity_token = strdup(json_string_value(token))))
		goto oom;
	apply_token_username(out);
	if (!out->username && !out->identity_token)
		return 0;
	*l->found = 1;
	return 1;
oom:
	registry_credentials_release(out);
	return stw_error("out of memory");
}

static int get_member(json_t **out, json_t *root, const char *name, int want_object, const char *path)
{
	*out = json_object_get(root, name);
	if (*out && json_is_null(*out))
		*out = NULL;
	if (*out && (want_object ? !json_is_object(*out) : !json_is_string(*out)))
		return stw_error("credentials file '%s': \"%s\" is not %s", path, name, want_object ? "an object" : "a string");
	return 0;
}

int credentials_lookup(struct registry_credentials *out, int *found, const char *config_path, const char *host)
{
	struct lookup l = { out, found, config_path, host, NULL };
	json_t *root = NULL, *helpers, *store, *auths;
	json_error_t err;
	struct buf file;
	int fd = -1, ret = -1;

	memset(out, 0, sizeof(*out));
	*found = 0;
	buf_init(&file);
	if (!valid_host(host))
		return stw_error("invalid registry host for a credentials lookup");
	if (!config_path)
		return 0;
	fd = open(config_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return stw_error_errno("cannot open credentials file '%s'", config_path);
	}
	if (buf_read_fd(&file, fd, CREDENTIALS_FILE_MAX) < 0) {
		stw_error_wrap("cannot read credentials file '%s'", config_path);
		goto out;
	}
	/* Not err.text: jansson quotes the input near the error, which may be a secret. */
	root = json_loadb(file.data, file.len, 0, &err);
	if (!root) {
		stw_error("credentials file '%s' is not valid JSON (line %d, column %d)", config_path, err.line,
			  err.column);
		goto out;
	}
	if (!json_is_object(root)) {
		stw_error("credentials file '%s' is not a JSON object", config_path);
		goto out;
	}
	if (get_member(&helpers, root, "credHelpers", 1, config_path) < 0 ||
	    get_member(&store, root, "credsStore", 0, config_path) < 0 ||
	    get_member(&auths, root, "auths", 1, config_path) < 0)
		goto out;

	if (helpers && for_each_match(helpers, host, choose_cred_helper, &l) < 0)
		goto out;
	if (l.helper && run_helper(&l, l.helper) < 0)
		goto out;
	if (!*found && store && json_string_length(store) && run_helper(&l, json_string_value(store)) < 0)
		goto out;
	if (!*found && auths && for_each_match(auths, host, use_auths_entry, &l) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		registry_credentials_release(out);
		*found = 0;
	}
	json_decref(root);
	if (fd >= 0)
		close(fd);
	buf_release_secret(&file);
	return ret;
}

int credentials_from_string(struct registry_credentials *out, const char *user_colon_pass)
{
	const char *colon = user_colon_pass ? strchr(user_colon_pass, ':') : NULL;

	memset(out, 0, sizeof(*out));
	if (!colon || colon == user_colon_pass || !colon[1])
		return stw_error("credentials must have the form USER:PASS");
	out->username = strndup(user_colon_pass, (size_t)(colon - user_colon_pass));
	out->password = strdup(colon + 1);
	if (!out->username || !out->password) {
		registry_credentials_release(out);
		return stw_error("out of memory");
	}
	return 0;
}

int credentials_basic_header(char **out, const struct registry_credentials *c)
{
	static const char prefix[] = "Basic ";
	size_t user_len, pass_len, plain_len, value_len;
	unsigned char *plain = NULL;
	char *value = NULL;

	*out = NULL;
	if (!c || !c->username || !c->password)
		return stw_error("no username and password for basic authentication");
	if (strchr(c->username, ':'))
		return stw_error("a username for basic authentication cannot contain ':'");
	user_len = strlen(c->username);
	pass_len = strlen(c->password);
	if (user_len > INT_MAX / 2 || pass_len > INT_MAX / 2 - user_len)
		return stw_error("credentials too long for basic authentication");
	plain_len = user_len + 1 + pass_len;
	value_len = sizeof(prefix) - 1 + (plain_len + 2) / 3 * 4;
	plain = malloc(plain_len);
	value = malloc(value_len + 1);
	if (!plain || !value) {
		free(plain);
		free(value);
		return stw_error("out of memory");
	}
	memcpy(plain, c->username, user_len);
	plain[user_len] = ':';
	memcpy(plain + user_len + 1, c->password, pass_len);
	memcpy(value, prefix, sizeof(prefix) - 1);
	EVP_EncodeBlock((unsigned char *)value + sizeof(prefix) - 1, plain, (int)plain_len);
	explicit_bzero(plain, plain_len);
	free(plain);
	*out = value;
	return 0;
}
