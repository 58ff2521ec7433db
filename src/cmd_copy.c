#include "cli.h"
#include "push_run.h"
#include "stowage/copy.h"
#include "stowage/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
	"usage: stowage copy IMAGE.json DEST [--jobs N] [--json]\n"
	"\n"
	"Delivers an image. Layers are synthesised from the store while they are\n"
	"written and hashed on the fly; if content no longer matches the recorded\n"
	"digests the copy fails and leaves no partial destination. A compressed\n"
	"layer the cache holds (stowage build kept it) is sent as it is instead.\n"
	"\n"
	"destinations (skopeo's transport names):\n"
	"  oci:DIR[:TAG]                   OCI image layout, created or updated\n"
	"  oci-archive:FILE[:TAG]          the layout as one tar file\n"
	"  docker-archive:FILE[:NAME:TAG]  for docker load / podman load\n"
	"  docker-daemon:NAME[:TAG]        loaded into the Docker daemon at $DOCKER_HOST\n"
	"                                  (unix sockets only; default unix:///var/run/docker.sock)\n"
	"  -                               docker-archive on stdout\n"
	"\n"
	"  docker://HOST[:PORT]/REPO[:TAG] a registry (see 'stowage push --help')\n"
	"\n"
	"  --jobs N   layers written in parallel (OCI layout, registry)\n"
	"  --json     print what was written as JSON on stdout (not with -)\n"
	"\n" REGISTRY_OPTIONS_HELP;

int cmd_copy(int argc, char **argv)
{
	struct stw_copy_options o = { .out_fd = 1, .docker_host = getenv("DOCKER_HOST") };
	struct stw_copy_stats stats;
	struct stw_image *img = NULL;
	struct registry_args args;
	int json, rc = registry_args_parse(&args, argc, argv, "copy", help);

	if (rc)
		return rc < 0 ? 0 : rc;
	rc = 1;
	if (argc - optind != 2)
		return cli_usage("copy", "expected IMAGE.json and DEST");
	if (!strncmp(argv[optind + 1], "docker://", 9))
		return push_run(argv[optind], argv[optind + 1] + 9, &args);
	if ((rc = registry_args_finish(&args)))
		return rc;
	rc = 1;
	o.jobs = args.opts.jobs;
	o.cache_dir = args.opts.cache_dir;
	o.blob_cache_max = args.opts.blob_cache_max;
	json = args.json;
	if (!strcmp(argv[optind + 1], "-") && isatty(1))
		return cli_fail("refusing to write an image archive to a terminal: redirect stdout");
	if (stw_image_load(&img, argv[optind]) < 0)
		return cli_fail_lib();
	if (stw_copy(img, argv[optind + 1], &o, &stats) < 0) {
		rc = cli_fail_lib();
		goto out;
	}
	if (json && strcmp(argv[optind + 1], "-") != 0)
		printf("{\"destination\":\"%s\",\"manifest_digest\":\"%s\",\"blobs_written\":%zu,"
		       "\"blobs_present\":%zu,\"bytes_written\":%llu}\n",
		       argv[optind + 1], stats.manifest_digest, stats.blobs_written, stats.blobs_present,
		       (unsigned long long)stats.bytes_written);
	else if (strcmp(argv[optind + 1], "-") != 0) {
		char bytes[32];
		cli_format_bytes(bytes, sizeof(bytes), stats.bytes_written);
		fprintf(stderr, "stowage: copied to %s: %zu blobs written (%s), %zu already there\n", argv[optind + 1],
			stats.blobs_written, bytes, stats.blobs_present);
	}
	rc = 0;
out:
	stw_image_free(img);
	return rc;
}
