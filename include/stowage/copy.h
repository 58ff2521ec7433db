/*
 * Delivering an image: layers are synthesised from the store while being
 * written, hashed on the fly, and a copy whose content no longer matches
 * the recorded digests fails without leaving a partial destination.
 * Destinations use skopeo's transport names:
 *   oci:DIR[:TAG]                 OCI image layout (created or updated)
 *   oci-archive:FILE[:TAG]        the same layout as a tar file
 *   docker-archive:FILE[:NAME:TAG] `docker load` / `podman load` input
 *   docker-daemon:NAME[:TAG]      loaded into a Docker/Podman daemon (docker_host)
 *   -                             docker-archive on out_fd (stdout)
 */
#ifndef STOWAGE_COPY_H
#define STOWAGE_COPY_H

#include "stowage/image.h"

struct stw_copy_options {
	int jobs;   /* parallel layer writers for oci:; <= 0: one per core */
	int out_fd; /* where "-" writes */
	const char *docker_host; /* docker-daemon:'s socket, "unix:///path"; NULL: "unix:///var/run/docker.sock" */
	const char *cache_dir;   /* compressed layers read from (and kept in) cache_dir/blobs, */
	uint64_t blob_cache_max; /* at most this many bytes; NULL or 0: none */
};

struct stw_copy_stats {
	size_t blobs_written;
	size_t blobs_present; /* already in an OCI layout */
	uint64_t bytes_written;
	char manifest_digest[72];
};

int stw_copy(const struct stw_image *img, const char *dest, const struct stw_copy_options *opts,
	     struct stw_copy_stats *stats);

/* Removes every temporary file and staging directory that writes in
 * progress (copies, caches) hold, and makes any later one fail: for a
 * process about to exit on SIGINT/SIGTERM, so that it leaves nothing
 * half-written behind. Call it from a normal thread (not a signal
 * handler), then exit without returning to the library. */
void stw_remove_temporaries(void);

/* The OCI manifest of an image, exactly as pushed or written (caller frees). */
int stw_image_manifest(char **out, const struct stw_image *img);
/* "sha256:<hex>" of a manifest's bytes. */
int stw_manifest_digest(char out[72], const char *manifest);

#endif
