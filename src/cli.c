#include "cli.h"
#include "stowage/error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("stowage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_fail_lib(void)
{
	return cli_fail("%s", stw_error_last());
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "stowage %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'stowage %s --help')\n", cmd);
	return EXIT_USAGE;
}

static int strlist_grow(struct strlist *l)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->items, (cap + 1) * sizeof(*v));
		if (!v)
			return -1;
		l->items = v;
		l->cap = cap;
	}
	return 0;
}

int strlist_push(struct strlist *l, const char *s)
{
	if (strlist_grow(l) < 0)
		return -1;
	l->items[l->count++] = (char *)s;
	l->items[l->count] = NULL;
	return 0;
}

int strlist_push_owned(struct strlist *l, char *s)
{
	l->owns = 1;
	if (!s || strlist_push(l, s) < 0) {
		free(s);
		return -1;
	}
	return 0;
}

void strlist_release(struct strlist *l)
{
	if (l->owns)
		for (size_t i = 0; i < l->count; i++)
			free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int write_all_fd(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int cli_write_output(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	int fd;

	if (!path || !strcmp(path, "-"))
		return write_all_fd(1, data, len) < 0 ? cli_fail("cannot write to stdout: %s", strerror(errno)) : 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= sizeof(tmp))
		return cli_fail("output path '%s' is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cli_fail("cannot create '%s': %s", tmp, strerror(errno));
	if (write_all_fd(fd, data, len) < 0 || close(fd) < 0) {
		int saved = errno;
		unlink(tmp);
		return cli_fail("cannot write '%s': %s", path, strerror(saved));
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return cli_fail("cannot write '%s': %s", path, strerror(saved));
	}
	return 0;
}

const char *cli_default_cache_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(buf, len, "%s/stowage", xdg);
	else if (home && *home && strcmp(home, "/homeless-shelter") != 0)
		snprintf(buf, len, "%s/.cache/stowage", home);
	else
		return NULL;
	return buf;
}

int cli_blob_cache_max(uint64_t *out)
{
	static const char suffixes[] = "KMG";
	const char *text = getenv("STOWAGE_BLOB_CACHE_MAX"), *unit;
	unsigned long long n;
	char *end;

	*out = 4ULL << 30;
	if (!text || !*text)
		return 0;
	errno = 0;
	n = strtoull(text, &end, 10);
	unit = *end ? strchr(suffixes, toupper((unsigned char)*end)) : NULL;
	if (errno || !isdigit((unsigned char)*text) || (*end && (!unit || end[1])) ||
	    (unit && n > (ULLONG_MAX >> (10 * (unit - suffixes + 1))))) {
		fprintf(stderr, "stowage: STOWAGE_BLOB_CACHE_MAX='%s' is not a size (bytes, or with K, M or G)\n",
			text);
		return EXIT_USAGE;
	}
	*out = unit ? n << (10 * (unit - suffixes + 1)) : n;
	return 0;
}

void cli_format_bytes(char *out, size_t len, unsigned long long bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", bytes);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}
