/*
 * stw_push: every blob (layers, then the config) is checked with HEAD,
 * mounted from another repository of the registry when the local record
 * knows one, or uploaded: the layer is synthesised by a producer thread
 * into a socket pair, streamed to the registry in one PATCH while being
 * hashed, and the upload is only finished (PUT ?digest=) when the digest
 * equals the recorded one; otherwise the session is cancelled. A
 * compressed layer the blob cache holds is streamed from there instead of
 * synthesised; a cached copy found corrupt is deleted, its session
 * cancelled, and the layer synthesised in a fresh one. Blobs go in
 * parallel; the manifest goes last, with exact bytes.
 */
#include "stowage/registry.h"
#include "stowage/copy.h"
#include "blob_cache.h"
#include "blob_record.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "layer_tar.h"
#include "manifest.h"
#include "pool.h"
#include "registry_connect.h"
#include "registry_ref.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BLOB_ATTEMPTS 3

const char *stw_blob_action_name(enum stw_blob_action a)
{
	return a == STW_BLOB_SKIPPED ? "skipped" : a == STW_BLOB_MOUNTED ? "mounted" : "uploaded";
}

struct push {
	const struct stw_image *img;
	const struct stw_registry_options *opts;
	struct registry *reg;
	struct registry_ref ref;
	char *scope;
	struct stw_push_result *result;
	atomic_uint_fast64_t uploaded, skipped, mounted;
	atomic_size_t from_cache;
	struct blob_cache blobs;
};

/* ---- progress ---- */

static void report(struct push *p, enum stw_progress_event event, size_t index, const char *digest, uint64_t size,
		   uint64_t bytes, enum stw_blob_action action)
{
	struct stw_progress pr = { event, index, p->img->layer_count + 1, digest, size, bytes, action };
	if (p->opts->progress)
		p->opts->progress(p->opts->progress_ctx, &pr);
}

/* ---- one blob ---- */

static int blob_exists(struct push *p, void *h, const char *digest, int *exists)
{
	struct http_request req = { .method = "HEAD", .timeout_s = 120 };
	struct http_response resp;
	char *url = NULL;
	int ret = -1;

	http_response_init(&resp);
	if (registry_url(&url, p->reg, p->ref.repo, "blobs/%s", digest) < 0)
		goto out;
	req.url = url;
	if (registry_request(p->reg, h, p->scope, &req, &resp) < 0)
		goto out;
	if (resp.status != 200 && resp.status != 404) {
		char why[300];
		registry_error_text(why, sizeof(why), &resp);
		stw_error("cannot check blob %s in %s/%s: %s", digest, p->reg->host, p->ref.repo, why);
		goto out;
	}
	*exists = resp.status == 200;
	ret = 0;
out:
	free(url);
	http_response_release(&resp);
	return ret;
}

/* POST an upload session, optionally asking to mount from another repo.
 * *mounted when the registry mounted it (201); else *location is the
 * session to upload into. */
static int start_upload(struct push *p, void *h, const char *digest, const char *from, int *mounted,
			char **location)
{
	struct http_request req = { .method = "POST", .body = "", .body_len = 0, .timeout_s = 120 };
	struct http_response resp;
	char *url = NULL, *scope = NULL;
	int ret = -1;

	*mounted = 0;
	*location = NULL;
	http_response_init(&resp);
	if ((from ? registry_url(&url, p->reg, p->ref.repo, "blobs/uploads/?mount=%s&from=%s", digest, from)
		  : registry_url(&url, p->reg, p->ref.repo, "blobs/uploads/")) < 0 ||
	    registry_scope(&scope, p->ref.repo, "push,pull", from) < 0)
		goto out;
	req.url = url;
	if (registry_request(p->reg, h, scope, &req, &resp) < 0)
		goto out;
	if (from && resp.status == 201) {
		*mounted = 1;
		ret = 0;
		goto out;
	}
	if (resp.status != 202 || !resp.location) {
		char why[300];
		registry_error_text(why, sizeof(why), &resp);
		stw_error("cannot start an upload to %s/%s: %s", p->reg->host, p->ref.repo, why);
		goto out;
	}
	ret = http_resolve_location(location, url, resp.location);
out:
	free(url);
	free(scope);
	http_response_release(&resp);
	return ret;
}

static void cancel_upload(struct push *p, void *h, const char *location)
{
	struct http_request req = { .method = "DELETE", .url = location, .timeout_s = 30 };
	struct http_response resp;
	http_response_init(&resp);
	(void)registry_request(p->reg, h, p->scope, &req, &resp); /* failures are ignored, as the spec says */
	http_response_release(&resp);
}

/* PUT <location>[?&]digest=D with an optional last body. */
static int finish_upload(struct push *p, void *h, const char *location, const char *digest, const void *body,
			 size_t len)
{
	struct http_request req = { .method = "PUT", .body = body ? body : "", .body_len = len,
				    .content_type = "application/octet-stream", .timeout_s = 300 };
	struct http_response resp;
	struct buf url;
	int ret = -1;

	http_response_init(&resp);
	buf_init(&url);
	if (buf_addf(&url, "%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', digest) < 0)
		goto out;
	req.url = url.data;
	if (registry_request(p->reg, h, p->scope, &req, &resp) < 0)
		goto out;
	if (resp.status == 404) {
		/* an earlier attempt whose answer was lost may have finished
		 * the session: the blob, by its digest, is then there */
		int exists = 0;
		if (blob_exists(p, h, digest, &exists) == 0 && exists) {
			ret = 0;
			goto out;
		}
	}
	if (resp.status != 201) {
		char why[300];
		registry_error_text(why, sizeof(why), &resp);
		stw_error("the registry refused blob %s: %s", digest, why);
		goto out;
	}
	ret = 0;
out:
	buf_release(&url);
	http_response_release(&resp);
	return ret;
}

/* ---- streaming a layer: producer thread -> socket pair -> curl ---- */

struct producer {
	const struct stw_layer *layer;
	const struct blob_cache *blobs;
	int from_cache;
	int fd;
	uint64_t skip; /* bytes the registry already has: hashed, not sent */
	struct layer_digests digests;
	int result;
	int stream_closed; /* the reader went away: its error is the one to tell */
	char error[1024];
};

/* Gathers the synthesised stream into big sends: tar headers and padding
 * come in 512-byte pieces, and one send each would reach curl as as many
 * tiny reads and HTTP chunks. */
#define SOCKET_SINK_BUFFER (256 * 1024)

struct socket_sink {
	struct sink base;
	struct producer *producer;
	char *buffer;
	size_t used;
};

static int send_all(struct producer *pr, const char *p, size_t len)
{
	while (len) {
		/* MSG_NOSIGNAL: a reader that gave up must not kill the process */
		ssize_t n = send(pr->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr->stream_closed = 1;
			return stw_error_errno("upload stream closed");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int socket_flush(struct socket_sink *s)
{
	int ret = send_all(s->producer, s->buffer, s->used);
	s->used = 0;
	return ret;
}

static int socket_write(struct sink *base, const void *data, size_t len)
{
	struct socket_sink *s = (struct socket_sink *)base;
	struct producer *pr = s->producer;
	const char *p = data;
	if (pr->skip) {
		size_t drop = pr->skip < len ? (size_t)pr->skip : len;
		pr->skip -= drop;
		p += drop;
		len -= drop;
	}
	if (s->used + len > SOCKET_SINK_BUFFER && socket_flush(s) < 0)
		return -1;
	if (len >= SOCKET_SINK_BUFFER)
		return send_all(pr, p, len);
	memcpy(s->buffer + s->used, p, len);
	s->used += len;
	return 0;
}

static int socket_finish(struct sink *base)
{
	return socket_flush((struct socket_sink *)base);
}

static void *produce(void *arg)
{
	struct producer *pr = arg;
	struct socket_sink out = { { socket_write, socket_finish, NULL }, pr, malloc(SOCKET_SINK_BUFFER), 0 };

	pr->result = out.buffer ? blob_cache_compute(pr->blobs, BLOB_CACHE_STREAM, pr->layer, &out.base, &pr->digests,
						     &pr->from_cache)
				: stw_error("out of memory");
	free(out.buffer);
	if (pr->result < 0)
		snprintf(pr->error, sizeof(pr->error), "%s", stw_error_last());
	shutdown(pr->fd, SHUT_WR); /* end of body for the reader */
	return NULL;
}

struct stream {
	int fd;
	struct push *push;
	const struct stw_layer *layer;
	size_t index;
	uint64_t sent, reported;
};

static ssize_t read_stream(void *ctx, char *dst, size_t len)
{
	struct stream *st = ctx;
	for (;;) {
		ssize_t n = recv(st->fd, dst, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			st->sent += (uint64_t)n;
			if (st->sent - st->reported >= 256 * 1024) {
				st->reported = st->sent;
				report(st->push, STW_PROGRESS_BYTES, st->index, st->layer->digest, st->layer->size,
				       st->sent, STW_BLOB_UPLOADED);
			}
		}
		return n;
	}
}

static int retryable_status(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/* One attempt: PATCH the layer as it is synthesised (from byte `have`,
 * when resuming), check everything against the recorded digest, then
 * finish the upload or cancel it. *resumable when the transfer broke but
 * the session may still hold what arrived. */
static int upload_layer_once(struct push *p, void *h, const struct stw_layer *l, size_t index, const char *location,
			     uint64_t have, int *retry, int *resumable)
{
	struct stream st = { .fd = -1, .push = p, .layer = l, .index = index, .sent = have, .reported = have };
	struct http_request req = { .method = "PATCH", .content_type = "application/octet-stream",
				    .url = location, .reader = read_stream };
	struct http_response resp;
	struct producer pr = { .layer = l, .blobs = &p->blobs, .fd = -1, .skip = have };
	char range[64];
	pthread_t thread;
	int fds[2] = { -1, -1 }, ret = -1, rc;
	char *next = NULL;

	*retry = *resumable = 0;
	http_response_init(&resp);
	if (have) { /* the chunked protocol: say where this part goes */
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)have,
			 (unsigned long long)(l->size - 1));
		req.content_range = range;
		req.reader_length = (long long)(l->size - have);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		stw_error_errno("cannot create an upload stream");
		goto out;
	}
	pr.fd = fds[1];
	if (pthread_create(&thread, NULL, produce, &pr) != 0) {
		stw_error("cannot start a layer producer");
		goto out;
	}
	st.fd = fds[0];
	req.reader_ctx = &st;
	rc = registry_request(p->reg, h, p->scope, &req, &resp);
	close(fds[0]); /* a producer still writing gets EPIPE and stops */
	fds[0] = -1;
	pthread_join(thread, NULL);
	if (pr.result < 0 && !pr.stream_closed) { /* content changed since the build, unreadable file */
		stw_error("%s", pr.error);
		cancel_upload(p, h, location);
		goto out;
	}
	if (rc < 0) {
		*retry = *resumable = 1;
		goto out;
	}
	if (resp.status != 202 && resp.status != 204) {
		char why[300];
		registry_error_text(why, sizeof(why), &resp);
		stw_error("upload of layer %s to %s/%s failed: %s", l->digest, p->reg->host, p->ref.repo, why);
		*retry = retryable_status(resp.status) || resp.status == 416;
		cancel_upload(p, h, location);
		goto out;
	}
	if (resp.location && http_resolve_location(&next, location, resp.location) < 0)
		goto out;
	if (pr.result < 0 || strcmp(pr.digests.digest, l->digest) != 0 || pr.digests.size != l->size) {
		stw_error("layer %s holding '%s' no longer matches its recorded digest (content now %s): rebuild the "
			  "image; the upload was cancelled",
			  l->digest, l->path_count ? l->paths[0].path : "(empty layer)",
			  pr.result < 0 ? "unknown" : pr.digests.digest);
		cancel_upload(p, h, next ? next : location);
		*retry = pr.from_cache; /* the corrupt cached copy is gone: synthesise it afresh */
		goto out;
	}
	ret = finish_upload(p, h, next ? next : location, l->digest, NULL, 0);
	if (ret < 0 && have)
		*retry = 1; /* a resumed session the registry would not finish: start afresh */
	if (ret == 0 && pr.from_cache)
		atomic_fetch_add(&p->from_cache, 1);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(next);
	http_response_release(&resp);
	return ret;
}

/* Asks an upload session how much it holds (GET -> 204, Range: 0-N).
 * Returns 0 with *have and a possibly new *location, -1 when the session
 * is gone or says nothing usable. */
static int upload_status(struct push *p, void *h, char **location, uint64_t *have)
{
	struct http_request req = { .method = "GET", .url = *location, .timeout_s = 60 };
	struct http_response resp;
	unsigned long long start, end;
	char *moved = NULL;
	int ret = -1;

	http_response_init(&resp);
	if (registry_request(p->reg, h, p->scope, &req, &resp) < 0 || resp.status != 204 || !resp.range)
		goto out;
	/* distribution answers "0-0" for an empty session as well as for one
	 * byte: read it as empty (a wrong guess fails the digest check at the
	 * end and the layer goes up in a fresh session) */
	if (!strcmp(resp.range, "0-0") || !strcmp(resp.range, "0--1") || !strcmp(resp.range, "0-"))
		*have = 0;
	else if (sscanf(resp.range, "%llu-%llu", &start, &end) == 2 && start == 0)
		*have = end + 1;
	else
		goto out;
	if (resp.location) {
		if (http_resolve_location(&moved, *location, resp.location) < 0)
			goto out;
		free(*location);
		*location = moved;
	}
	ret = 0;
out:
	http_response_release(&resp);
	return ret;
}

/* Uploads a layer; after a broken transfer it resumes from what the
 * registry holds, else it starts a fresh session. */
static int upload_layer(struct push *p, void *h, const struct stw_layer *l, size_t index, char *location)
{
	uint64_t have = 0;

	for (int attempt = 1;; attempt++) {
		int mounted, retry, resumable, rc;
		if (!location) {
			have = 0;
			if (start_upload(p, h, l->digest, NULL, &mounted, &location) < 0)
				return -1;
		}
		rc = upload_layer_once(p, h, l, index, location, have, &retry, &resumable);
		if (rc == 0 || !retry || attempt == BLOB_ATTEMPTS) {
			if (rc < 0 && resumable)
				cancel_upload(p, h, location);
			free(location);
			return rc;
		}
		registry_backoff(attempt, -1);
		if (!resumable || upload_status(p, h, &location, &have) < 0 || have >= l->size) {
			free(location);
			location = NULL;
		}
	}
}

static int upload_config(struct push *p, void *h)
{
	const struct stw_image *img = p->img;
	char *location = NULL;
	int mounted, ret;

	if (start_upload(p, h, img->config_digest, NULL, &mounted, &location) < 0)
		return -1;
	ret = finish_upload(p, h, location, img->config_digest, img->config_json, strlen(img->config_json));
	free(location);
	return ret;
}

/* ---- all blobs ---- */

static int first_with_digest(const struct stw_image *img, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(img->layers[k].digest, img->layers[i].digest))
			return 0;
	return 1;
}

static int push_blob(void *ctx, size_t index)
{
	struct push *p = ctx;
	const struct stw_image *img = p->img;
	int is_config = index == img->layer_count;
	const struct stw_layer *l = is_config ? NULL : &img->layers[index];
	const char *digest = is_config ? img->config_digest : l->digest;
	uint64_t size = is_config ? strlen(img->config_json) : l->size;
	struct stw_push_blob *out = is_config ? &p->result->config : &p->result->layers[index];
	char *from = NULL, *location = NULL;
	void *h = NULL;
	int exists = 0, mounted = 0, ret = -1;

	memcpy(out->digest, digest, sizeof(out->digest));
	out->size = size;
	if (!is_config && !first_with_digest(img, index)) { /* the same layer twice: sent once */
		out->action = STW_BLOB_SKIPPED;
		return 0;
	}
	report(p, STW_PROGRESS_START, index, digest, size, 0, STW_BLOB_UPLOADED);
	if (!(h = registry_handle_take(p->reg)) || blob_exists(p, h, digest, &exists) < 0)
		goto out;
	if (exists) {
		out->action = STW_BLOB_SKIPPED;
		atomic_fetch_add(&p->skipped, size);
	} else if (!is_config &&
		   (from = blob_record_find(p->opts->cache_dir, p->reg->host, digest, p->ref.repo)) &&
		   start_upload(p, h, digest, from, &mounted, &location) == 0 && mounted) {
		out->action = STW_BLOB_MOUNTED;
		snprintf(out->mounted_from, sizeof(out->mounted_from), "%s", from);
		atomic_fetch_add(&p->mounted, size);
	} else {
		/* a declined mount (202) leaves a session to upload into */
		if ((is_config ? upload_config(p, h) : upload_layer(p, h, l, index, location)) < 0) {
			location = NULL;
			goto out;
		}
		location = NULL;
		out->action = STW_BLOB_UPLOADED;
		atomic_fetch_add(&p->uploaded, size);
	}
	blob_record_add(p->opts->cache_dir, p->reg->host, digest, p->ref.repo);
	report(p, STW_PROGRESS_DONE, index, digest, size, out->action == STW_BLOB_UPLOADED ? size : 0, out->action);
	ret = 0;
out:
	free(location);
	free(from);
	registry_handle_give(p->reg, h);
	return ret;
}

/* ---- the manifest ---- */

static int put_manifest(struct push *p, const char *reference, const char *bytes, const char *media_type,
			char digest[72])
{
	void *h = registry_handle_take(p->reg);
	int ret = h ? registry_put_manifest(p->reg, h, p->scope, p->ref.repo, reference, bytes, strlen(bytes),
					    media_type, digest)
		    : -1;
	registry_handle_give(p->reg, h);
	return ret;
}

/* A re-push of an unchanged image: when `reference` already names a
 * manifest with our digest, the registry accepted that manifest, so it
 * holds every blob it lists and the tag is where it should be. One HEAD
 * then replaces one per blob and the manifest PUT. Any other answer
 * (404, an error) just means the blobs are checked one by one. */
static int manifest_already_there(struct push *p, const char *reference, const char *media_type,
				  const char *digest)
{
	struct http_request req = { .method = "HEAD", .accept = media_type, .timeout_s = 60 };
	struct http_response resp;
	char *url = NULL;
	void *h = registry_handle_take(p->reg);
	int there = 0;

	http_response_init(&resp);
	if (h && registry_url(&url, p->reg, p->ref.repo, "manifests/%s", reference) == 0) {
		req.url = url;
		there = registry_request(p->reg, h, p->scope, &req, &resp) == 0 && resp.status == 200 &&
			resp.content_digest && !strcmp(resp.content_digest, digest);
	}
	stw_error("%s", ""); /* a failed check is no error of the push */
	free(url);
	http_response_release(&resp);
	registry_handle_give(p->reg, h);
	return there;
}

static void all_skipped(struct push *p)
{
	const struct stw_image *img = p->img;
	for (size_t i = 0; i <= img->layer_count; i++) {
		struct stw_push_blob *b = i == img->layer_count ? &p->result->config : &p->result->layers[i];
		const char *digest = i == img->layer_count ? img->config_digest : img->layers[i].digest;
		memcpy(b->digest, digest, sizeof(b->digest));
		b->size = i == img->layer_count ? strlen(img->config_json) : img->layers[i].size;
		b->action = STW_BLOB_SKIPPED;
		if (i == img->layer_count || first_with_digest(img, i))
			atomic_fetch_add(&p->skipped, b->size);
		report(p, STW_PROGRESS_DONE, i, digest, b->size, 0, STW_BLOB_SKIPPED);
	}
}

void stw_push_result_release(struct stw_push_result *r)
{
	free(r->layers);
	memset(r, 0, sizeof(*r));
}

/* Pushes to a tag, or by_digest to manifests/<digest> (no tag moves). */
static int push_image(struct stw_push_result *out, const struct stw_image *img, const char *ref_text, int by_digest,
		      const struct stw_registry_options *opts)
{
	struct push p = { .img = img, .opts = opts, .result = out };
	const char *media_type = opts->docker_format ? DOCKER_MANIFEST_TYPE : OCI_MANIFEST_TYPE;
	char *manifest = NULL;
	const char *tag;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	atomic_init(&p.uploaded, 0);
	atomic_init(&p.skipped, 0);
	atomic_init(&p.mounted, 0);
	atomic_init(&p.from_cache, 0);
	p.blobs = (struct blob_cache){ opts->cache_dir, opts->blob_cache_max };
	if (!img->has_config) {
		stw_error("a layer JSON has no config: use stowage build to make an image");
		goto out;
	}
	if (registry_ref_parse(&p.ref, ref_text) < 0)
		goto out;
	if (p.ref.digest || (by_digest && p.ref.tag)) {
		stw_error("push to %s, not '%s'", by_digest ? "HOST/REPO (by digest)" : "a tag", ref_text);
		goto out;
	}
	tag = p.ref.tag ? p.ref.tag : img->tag ? img->tag : "latest";
	if (!registry_tag_valid(tag)) {
		stw_error("invalid tag '%s'", tag);
		goto out;
	}
	if (stw_image_manifest_as(&manifest, img, opts->docker_format) < 0 ||
	    sha256_digest(out->manifest_digest, manifest, strlen(manifest)) < 0)
		goto out;
	if (by_digest)
		tag = out->manifest_digest;
	snprintf(out->reference, sizeof(out->reference), "%s/%s%s%s", p.ref.host, p.ref.repo, by_digest ? "@" : ":", tag);
	out->layers = calloc(img->layer_count + 1, sizeof(*out->layers));
	if (!out->layers) {
		stw_error("out of memory");
		goto out;
	}
	out->layer_count = img->layer_count;
	if (registry_connect(&p.reg, p.ref.host, opts) < 0 ||
	    registry_scope(&p.scope, p.ref.repo, "push,pull", NULL) < 0)
		goto out;
	if (manifest_already_there(&p, tag, media_type, out->manifest_digest)) {
		all_skipped(&p);
		goto done;
	}
	/* every blob first, the manifest only once they are all in place */
	if (pool_run(img->layer_count + 1, opts->jobs > 0 ? opts->jobs : 4, push_blob, &p) < 0)
		goto out;
	if (put_manifest(&p, tag, manifest, media_type, out->manifest_digest) < 0)
		goto out;
done:
	out->bytes_uploaded = atomic_load(&p.uploaded);
	out->layers_from_cache = atomic_load(&p.from_cache);
	out->bytes_skipped = atomic_load(&p.skipped);
	out->bytes_mounted = atomic_load(&p.mounted);
	ret = 0;
out:
	if (ret < 0) {
		stw_error_wrap("cannot push to '%s'", ref_text);
		stw_push_result_release(out); /* a failed push leaves nothing to free */
	}
	free(manifest);
	free(p.scope);
	registry_ref_release(&p.ref);
	registry_close(p.reg);
	return ret;
}

int stw_push(struct stw_push_result *out, const struct stw_image *img, const char *ref,
	     const struct stw_registry_options *opts)
{
	return push_image(out, img, ref, 0, opts);
}

int stw_push_by_digest(struct stw_push_result *out, const struct stw_image *img, const char *repository,
		       const struct stw_registry_options *opts)
{
	return push_image(out, img, repository, 1, opts);
}
