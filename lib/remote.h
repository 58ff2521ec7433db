/*
 * Reading from a repository of a registry: manifests and small blobs into
 * memory (bounded, digests verified), large blobs streamed into a sink.
 * Shared by tag, inspect, index (remote.c) and verify (verify_remote.c).
 */
#ifndef STW_LIB_REMOTE_H
#define STW_LIB_REMOTE_H

#include "buf.h"
#include "registry_connect.h"
#include "registry_ref.h"
#include "sink.h"
#include "stowage/registry.h"

#define MANIFEST_ACCEPT                                                                                    \
	OCI_MANIFEST_TYPE ", " OCI_INDEX_TYPE ", " DOCKER_MANIFEST_TYPE ", " DOCKER_LIST_TYPE
#define MAX_MANIFEST (8u << 20)
#define MAX_CONFIG (16u << 20)

struct remote {
	struct registry *reg;
	struct registry_ref ref;
	void *handle;
	char *scope;
};

/* Parses ref and connects with the scope's actions ("pull", "push,pull").
 * Call remote_close whether it succeeds or not. */
int remote_open(struct remote *r, const char *ref, const char *actions, const struct stw_registry_options *opts);
void remote_close(struct remote *r);

/* The reference's digest, else its tag, else "latest". */
const char *remote_reference(const struct remote *r);

/* GETs KIND/REFERENCE (KIND "manifests" or "blobs") into body, at most
 * max bytes, verifying a digest reference (and Docker-Content-Digest when
 * sent). media_type (may be NULL) gets the Content-Type, caller frees. */
int remote_get(struct remote *r, const char *kind, const char *reference, size_t max, struct buf *body,
	       char **media_type, char digest[72]);

/* GETs blobs/DIGEST into sink (not finished here), following a redirect to
 * storage. The caller verifies the digest of what passed. */
int remote_get_blob_stream(struct remote *r, const char *digest, struct sink *sink);

#endif
