/* Opening a session from user options: credentials in the documented
 * order, and the CAs of --cert-dir added to the system's. */
#include "registry_connect.h"
#include "buf.h"
#include "error.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* --creds, then the auth files, then GITHUB_ACTOR/GITHUB_TOKEN. */
static int resolve_credentials(struct registry_credentials *out, const char *host,
			       const struct stw_registry_options *o)
{
	memset(out, 0, sizeof(*out));
	if (o->creds)
		return credentials_from_string(out, o->creds);
	for (size_t i = 0; i < o->auth_file_count; i++) {
		int found = 0;
		if (credentials_lookup(out, &found, o->auth_files[i], host) < 0)
			return -1;
		if (found)
			return 0;
	}
	if (o->github_actor && *o->github_actor && o->github_token && *o->github_token) {
		out->username = strdup(o->github_actor);
		out->password = strdup(o->github_token);
		if (!out->username || !out->password)
			return stw_error("out of memory");
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The system bundle plus every DIR/\*.crt, as one PEM text. */
static int load_cas(char **out, size_t *len, const char *dir)
{
	struct buf pem, path;
	struct dirent **names = NULL;
	int n, ret = -1;

	*out = NULL;
	*len = 0;
	if (!dir)
		return 0;
	buf_init(&pem);
	buf_init(&path);
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		stw_error_errno("cannot read --cert-dir '%s'", dir);
		goto out;
	}
	(void)buf_read_file(&pem, SYSTEM_CA_BUNDLE, 16u << 20); /* absent: only DIR's */
	stw_error("%s", "");
	for (int i = 0; i < n; i++) {
		if (!ends_with(names[i]->d_name, ".crt"))
			continue;
		buf_reset(&path);
		if (buf_addf(&path, "%s/%s", dir, names[i]->d_name) < 0 || buf_addch(&pem, '\n') < 0 ||
		    buf_read_file(&pem, path.data, 16u << 20) < 0)
			goto out;
	}
	*len = pem.len;
	*out = buf_detach(&pem, NULL);
	ret = *out ? 0 : stw_error("out of memory");
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_release(&pem);
	buf_release(&path);
	return ret;
}

int registry_connect(struct registry **out, const char *host, const struct stw_registry_options *o)
{
	struct registry_credentials creds;
	char *ca = NULL;
	size_t ca_len = 0;

	*out = NULL;
	if (resolve_credentials(&creds, host, o) < 0) {
		registry_credentials_release(&creds);
		return -1;
	}
	if (load_cas(&ca, &ca_len, o->cert_dir) < 0) {
		registry_credentials_release(&creds);
		return -1;
	}
	return registry_open(out, host, &creds, o->tls_verify, ca, ca_len);
}
