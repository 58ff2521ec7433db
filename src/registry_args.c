#include "registry_args.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *authfile_option;

void registry_args_init(struct registry_args *a)
{
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	memset(a, 0, sizeof(*a));
	authfile_option = NULL;
	a->opts.tls_verify = 1;
	a->opts.github_actor = getenv("GITHUB_ACTOR");
	a->opts.github_token = getenv("GITHUB_TOKEN");
	if (dc && *dc)
		snprintf(a->docker_config, sizeof(a->docker_config), "%s/config.json", dc);
	else if (home && *home)
		snprintf(a->docker_config, sizeof(a->docker_config), "%s/.docker/config.json", home);
	a->opts.cache_dir = cli_default_cache_dir(a->cache_dir, sizeof(a->cache_dir));
}

int registry_args_option(struct registry_args *a, int opt, const char *arg, const char *cmd)
{
	switch (opt) {
	case OPT_REG_CREDS:
		if (!strchr(arg, ':'))
			return cli_usage(cmd, "--creds must be USER:PASS");
		a->opts.creds = arg;
		return 1;
	case OPT_REG_AUTHFILE: authfile_option = arg; return 1;
	case OPT_REG_CERT_DIR: a->opts.cert_dir = arg; return 1;
	case OPT_REG_TLS_VERIFY:
		if (!arg || !strcmp(arg, "true"))
			a->opts.tls_verify = 1;
		else if (!strcmp(arg, "false"))
			a->opts.tls_verify = 0;
		else
			return cli_usage(cmd, "--tls-verify takes true or false, not '%s'", arg);
		return 1;
	case OPT_REG_JOBS:
		a->opts.jobs = atoi(arg);
		if (a->opts.jobs < 1 || a->opts.jobs > 64)
			return cli_usage(cmd, "--jobs must be a number from 1 to 64");
		return 1;
	case OPT_REG_FORMAT:
		if (!strcmp(arg, "oci"))
			a->opts.docker_format = 0;
		else if (!strcmp(arg, "v2s2"))
			a->opts.docker_format = 1;
		else
			return cli_usage(cmd, "--format takes oci or v2s2, not '%s'", arg);
		return 1;
	case OPT_REG_DIGESTFILE: a->digestfile = arg; return 1;
	case OPT_REG_CACHE_DIR:
		snprintf(a->cache_dir, sizeof(a->cache_dir), "%s", arg);
		a->opts.cache_dir = a->cache_dir;
		return 1;
	case OPT_REG_NO_CACHE: a->no_cache = 1; return 1;
	case OPT_REG_JSON: a->json = 1; return 1;
	default: return 0;
	}
}

int registry_args_parse(struct registry_args *a, int argc, char **argv, const char *cmd, const char *help)
{
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	registry_args_init(a);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int rc;
		if (opt == 'h') {
			fputs(help, stdout);
			return -1;
		}
		rc = registry_args_option(a, opt, optarg, cmd);
		if (rc == 0)
			return cli_usage(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
		if (rc != 1)
			return rc;
	}
	return 0;
}

int registry_args_finish(struct registry_args *a)
{
	const char *env_file = getenv("REGISTRY_AUTH_FILE");
	size_t n = 0;

	if (authfile_option)
		a->auth_files[n++] = authfile_option;
	else if (env_file && *env_file)
		a->auth_files[n++] = env_file;
	if (a->docker_config[0])
		a->auth_files[n++] = a->docker_config;
	a->opts.auth_files = a->auth_files;
	a->opts.auth_file_count = n;
	if (a->no_cache)
		a->opts.cache_dir = NULL;
	return cli_blob_cache_max(&a->opts.blob_cache_max);
}

int registry_args_write_digest(const struct registry_args *a, const char *digest)
{
	FILE *f;
	if (!a->digestfile)
		return 0;
	f = fopen(a->digestfile, "w");
	if (!f || fputs(digest, f) < 0 || fclose(f) != 0)
		return cli_fail("cannot write --digestfile '%s'", a->digestfile);
	return 0;
}
