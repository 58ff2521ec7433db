/* stw_copy: parsing the destination and writing files atomically. */
#include "stowage/copy.h"
#include "archive_out.h"
#include "atomic_file.h"
#include "buf.h"
#include "docker_daemon.h"
#include "error.h"
#include "manifest.h"
#include "oci_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum archive_kind { DOCKER_ARCHIVE, OCI_ARCHIVE };

/* Written beside FILE and renamed into place when complete. */
static int write_archive_file(const struct stw_image *img, enum archive_kind kind, const char *file,
			      const char *ref, const struct stw_copy_options *opts, struct stw_copy_stats *stats)
{
	struct atomic_file f;
	struct fd_sink out;
	int ret = -1;

	memset(&out, 0, sizeof(out));
	if (atomic_file_open(&f, file) < 0)
		return -1;
	if (fd_sink_init(&out, f.fd, file) < 0)
		goto out;
	if ((kind == DOCKER_ARCHIVE ? docker_archive_write(img, ref, &out.base, stats)
				    : oci_archive_write(img, ref, &out.base, opts, stats)) < 0)
		goto out;
	ret = atomic_file_commit(&f);
out:
	if (ret < 0)
		atomic_file_abort(&f);
	fd_sink_release(&out);
	return ret;
}

/* "name:tag" for docker-archive from the destination or the image. */
static int docker_ref(char **out, const struct stw_image *img, const char *given)
{
	char *name = NULL, *tag = NULL;
	struct buf b;

	*out = NULL;
	buf_init(&b);
	if (given && *given) {
		if (reference_split(&name, &tag, given) < 0)
			goto fail;
	} else if (img->name) {
		name = strdup(img->name);
		tag = img->tag ? strdup(img->tag) : NULL;
	} else {
		return 0;
	}
	if (buf_addf(&b, "%s:%s", name, tag ? tag : "latest") < 0)
		goto fail;
	free(name);
	free(tag);
	*out = buf_detach(&b, NULL);
	return 0;
fail:
	free(name);
	free(tag);
	buf_release(&b);
	return -1;
}

static int split_transport(char **path, char **rest, const char *spec)
{
	const char *colon = strchr(spec, ':');
	*path = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
	*rest = colon ? strdup(colon + 1) : NULL;
	if (!*path || (colon && !*rest))
		return stw_error("out of memory");
	if (!**path)
		return stw_error("destination has no path");
	return 0;
}

int stw_copy(const struct stw_image *img, const char *dest, const struct stw_copy_options *opts,
	     struct stw_copy_stats *stats)
{
	char *path = NULL, *rest = NULL, *ref = NULL;
	int ret = -1;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!strcmp(dest, "-")) {
		struct fd_sink out;
		if (docker_ref(&ref, img, NULL) < 0 || fd_sink_init(&out, opts ? opts->out_fd : 1, "stdout") < 0)
			goto out;
		ret = docker_archive_write(img, ref, &out.base, stats);
		fd_sink_release(&out);
	} else if (!strncmp(dest, "oci:", 4)) {
		if (split_transport(&path, &rest, dest + 4) < 0)
			goto out;
		ret = oci_layout_write(img, path, rest ? rest : img->tag ? img->tag : "latest", opts, stats);
	} else if (!strncmp(dest, "oci-archive:", 12)) {
		if (split_transport(&path, &rest, dest + 12) < 0)
			goto out;
		ret = write_archive_file(img, OCI_ARCHIVE, path, rest ? rest : img->tag ? img->tag : "latest", opts,
					 stats);
	} else if (!strncmp(dest, "docker-archive:", 15)) {
		if (split_transport(&path, &rest, dest + 15) < 0 || docker_ref(&ref, img, rest) < 0)
			goto out;
		ret = write_archive_file(img, DOCKER_ARCHIVE, path, ref, opts, stats);
	} else if (!strncmp(dest, "docker-daemon:", 14)) {
		if (docker_ref(&ref, img, dest + 14) < 0)
			goto out;
		if (!ref)
			stw_error("docker-daemon: needs NAME[:TAG] (the image JSON has no name)");
		else
			ret = docker_daemon_load(img, opts ? opts->docker_host : NULL, ref, stats);
	} else if (!strncmp(dest, "docker://", 9)) {
		/* registries are the job of stw_push (stowage/registry.h) */
		stw_error("destination '%s': push to a registry with stw_push", dest);
	} else {
		stw_error("unknown destination '%s' (expected oci:DIR[:TAG], oci-archive:FILE[:TAG], "
			  "docker-archive:FILE[:NAME:TAG], docker-daemon:NAME[:TAG], docker://HOST/REPO[:TAG] or -)",
			  dest);
	}
out:
	if (ret < 0)
		stw_error_wrap("cannot copy to '%s'", dest);
	free(path);
	free(rest);
	free(ref);
	return ret;
}
