/* The options every registry-facing command shares (see
 * docs/registry-cli.md), and the environment they default from. */
#ifndef STW_REGISTRY_ARGS_H
#define STW_REGISTRY_ARGS_H

#include "stowage/registry.h"

#include <getopt.h>
#include <limits.h>

enum {
	OPT_REG_CREDS = 1000, OPT_REG_AUTHFILE, OPT_REG_CERT_DIR, OPT_REG_TLS_VERIFY, OPT_REG_JOBS,
	OPT_REG_FORMAT, OPT_REG_DIGESTFILE, OPT_REG_CACHE_DIR, OPT_REG_NO_CACHE, OPT_REG_JSON,
};

#define REGISTRY_LONG_OPTIONS                                                                              \
	{ "creds", required_argument, NULL, OPT_REG_CREDS },                                               \
	{ "authfile", required_argument, NULL, OPT_REG_AUTHFILE },                                         \
	{ "cert-dir", required_argument, NULL, OPT_REG_CERT_DIR },                                         \
	{ "tls-verify", optional_argument, NULL, OPT_REG_TLS_VERIFY },                                     \
	{ "jobs", required_argument, NULL, OPT_REG_JOBS },                                                 \
	{ "format", required_argument, NULL, OPT_REG_FORMAT },                                             \
	{ "digestfile", required_argument, NULL, OPT_REG_DIGESTFILE },                                     \
	{ "cache-dir", required_argument, NULL, OPT_REG_CACHE_DIR },                                       \
	{ "no-cache", no_argument, NULL, OPT_REG_NO_CACHE },                                               \
	{ "json", no_argument, NULL, OPT_REG_JSON }

#define REGISTRY_OPTIONS_HELP                                                                              \
	"registry options:\n"                                                                              \
	"  --creds USER:PASS     credentials (else --authfile, $REGISTRY_AUTH_FILE, the docker\n"          \
	"                        config's credHelpers/credsStore/auths, $GITHUB_ACTOR/$GITHUB_TOKEN)\n"    \
	"  --authfile FILE       a docker config.json-shaped file\n"                                       \
	"  --cert-dir DIR        also trust the CA certificates DIR/*.crt\n"                             \
	"  --tls-verify=false    allow plain HTTP and any certificate (loopback may use HTTP anyway)\n"    \
	"  --jobs N              blobs in parallel (default 4)\n"                                          \
	"  --format oci|v2s2     manifest media types (default oci)\n"                                     \
	"  --digestfile FILE     write the manifest digest to FILE\n"                                      \
	"  --cache-dir DIR       record of pushed blobs (cross-repository mounts) and the compressed\n"   \
	"                        layers stowage build made, sent as they are (default ~/.cache/stowage)\n" \
	"  --no-cache            neither read nor write the cache directory\n"                            \
	"  --json                print the result as JSON on stdout\n"

struct registry_args {
	struct stw_registry_options opts;
	const char *auth_files[2];
	char docker_config[PATH_MAX];
	char cache_dir[PATH_MAX];
	const char *digestfile;
	int json, no_cache;
};

/* Defaults from the environment (the library never reads it). */
void registry_args_init(struct registry_args *a);
/* 1 when opt was one of ours (0 when not), EXIT_USAGE on a bad value. */
int registry_args_option(struct registry_args *a, int opt, const char *arg, const char *cmd);
/* Parses a registry command's options (REGISTRY_LONG_OPTIONS and --help)
 * up to its operands, which start at optind afterwards. Returns 0 to go
 * on, -1 when --help was printed (exit 0), or the exit code of a usage
 * error. */
int registry_args_parse(struct registry_args *a, int argc, char **argv, const char *cmd, const char *help);
/* Finalises the auth file list and the cache after parsing. Returns 0, or
 * the exit code of a bad $STOWAGE_BLOB_CACHE_MAX (said on stderr). */
int registry_args_finish(struct registry_args *a);

/* Writes a digest to --digestfile if given; prints one error line on failure. */
int registry_args_write_digest(const struct registry_args *a, const char *digest);

#endif
