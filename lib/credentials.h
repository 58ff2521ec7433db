/*
 * Registry credentials from a docker config.json-shaped file, a credential
 * helper it names, or a "USER:PASS" string. The library reads no
 * environment variable: the caller chooses the file. A
 * registry_credentials owns its strings; registry_credentials_release zeroes
 * and frees them. No secret is ever put in an error message or in a
 * helper's argv.
 */
#ifndef STW_LIB_CREDENTIALS_H
#define STW_LIB_CREDENTIALS_H

/* Bounds on what is read: the config file and a helper's stdout. */
#define CREDENTIALS_FILE_MAX (4 * 1024 * 1024)
#define CREDENTIALS_HELPER_OUTPUT_MAX (64 * 1024)

struct registry_credentials {
	char *username;       /* NULL: anonymous */
	char *password;       /* password or token */
	char *identity_token; /* set when the stored username is "<token>" (credential helpers) or "identitytoken" is in auths */
};

/*
 * Looks up host ("127.0.0.1:5000", "ghcr.io") in the config file at path.
 * *found = 1 and out filled when credentials exist; *found = 0 when the
 * file (or config_path is NULL) or the entry doesn't exist (not an error).
 *
 * Order: credHelpers[host] > credsStore > auths[host]; a source with
 * nothing for the host (no entry, a helper answering "credentials not
 * found", an auths entry without credentials) passes to the next.
 *
 * Keys (of credHelpers and auths) match host when, after an optional
 * "http://" or "https://", they are host (case-insensitive) followed by
 * nothing, "/", "/v1", "/v1/", "/v2" or "/v2/". "docker.io",
 * "index.docker.io" and "registry-1.docker.io" are one registry, so Docker
 * Hub's "https://index.docker.io/v1/" matches each of them. A key equal to
 * host as given wins over the other matches; then file order.
 *
 * An auths entry: "auth" = base64("user:pass") (strict: standard alphabet,
 * padded, no whitespace; split at the first colon), else "username" and
 * "password"; "identitytoken" sets identity_token. "registrytoken" is
 * ignored.
 *
 * A helper (credHelpers value or credsStore, [A-Za-z0-9._-]+) is run as
 * `docker-credential-<name> get` (posix_spawnp: PATH lookup, inherited
 * environment) with the server URL on stdin (host, or
 * "https://index.docker.io/v1/" for Docker Hub), stderr to /dev/null, and
 * {"Username":..,"Secret":..} read from its stdout (at most
 * CREDENTIALS_HELPER_OUTPUT_MAX bytes, else it is killed). A non-zero exit
 * whose output says "credentials not found" means not found; any other
 * failure is an error. Username "<token>" (in a helper's answer or in a
 * decoded "auth") makes the secret the identity_token, with username and
 * password NULL.
 *
 * When *found is 1, username (with password) or identity_token is set.
 * Errors name the file (and the helper) only. There is no timeout: a
 * helper that waits for the user (a keychain prompt) blocks the caller.
 */
int credentials_lookup(struct registry_credentials *out, int *found, const char *config_path, const char *host);

/* Splits "USER:PASS" (first colon); USER and PASS must be non-empty. */
int credentials_from_string(struct registry_credentials *out, const char *user_colon_pass);

/* Zeroes the secrets before freeing them; harmless on an empty struct. */
void registry_credentials_release(struct registry_credentials *c);

/* "Basic base64(user:pass)" value for an Authorization header (caller frees,
 * and should zero it). Needs username (without ':') and password. */
int credentials_basic_header(char **out, const struct registry_credentials *c);

#endif
