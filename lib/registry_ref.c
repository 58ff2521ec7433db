#include "registry_ref.h"
#include "digest.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

void registry_ref_release(struct registry_ref *r)
{
	free(r->host);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
static int repo_valid(const char *s)
{
	int need_alnum = 1;
	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
			need_alnum = 0;
			continue;
		}
		if (need_alnum)
			return 0;
		if (*s == '/' || *s == '.')
			need_alnum = 1;
		else if (*s == '_')
			need_alnum = s[1] == '_' ? (s++, 1) : 1;
		else if (*s == '-') {
			while (s[1] == '-')
				s++;
			need_alnum = 1;
		} else
			return 0;
	}
	return !need_alnum;
}

int registry_tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return 0;
	return t[strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] == 0;
}

int registry_ref_parse(struct registry_ref *out, const char *text)
{
	const char *slash = strchr(text, '/'), *name = text, *at, *colon, *last_slash;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (slash && (memchr(text, '.', (size_t)(slash - text)) || memchr(text, ':', (size_t)(slash - text)) ||
		      ((size_t)(slash - text) == 9 && !strncmp(text, "localhost", 9)))) {
		out->host = strndup(text, (size_t)(slash - text));
		name = slash + 1;
	} else {
		out->host = strdup("docker.io");
	}
	at = strchr(name, '@');
	last_slash = strrchr(name, '/');
	colon = strchr(last_slash ? last_slash : name, ':');
	if (at && colon > at)
		colon = NULL;
	if (at)
		out->digest = strdup(at + 1);
	if (colon)
		out->tag = strndup(colon + 1, (size_t)((at ? at : name + strlen(name)) - colon - 1));
	out->repo = strndup(name, (size_t)((colon ? colon : at ? at : name + strlen(name)) - name));
	if (!out->host || !out->repo || (at && !out->digest) || (colon && !out->tag)) {
		stw_error("out of memory");
		goto out;
	}
	if (!strcmp(out->host, "docker.io") && !strchr(out->repo, '/')) {
		char *full = malloc(strlen(out->repo) + 9);
		if (!full) {
			stw_error("out of memory");
			goto out;
		}
		memcpy(full, "library/", 8);
		memcpy(full + 8, out->repo, strlen(out->repo) + 1);
		free(out->repo);
		out->repo = full;
	}
	if (!*out->host || !repo_valid(out->repo)) {
		stw_error("invalid image reference '%s': repository names are lowercase letters, digits and . _ - /",
			  text);
		goto out;
	}
	if (out->tag && !registry_tag_valid(out->tag)) {
		stw_error("invalid tag in '%s'", text);
		goto out;
	}
	if (out->digest && !digest_is_valid(out->digest)) {
		stw_error("invalid digest in '%s'", text);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		registry_ref_release(out);
	return ret;
}

const char *registry_api_host(const char *host)
{
	return !strcmp(host, "docker.io") ? "registry-1.docker.io" : host;
}

int registry_host_is_loopback(const char *host)
{
	size_t len = strcspn(host, ":");
	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5);
	return (len == 9 && !strncmp(host, "localhost", 9)) || !strncmp(host, "127.", 4);
}
