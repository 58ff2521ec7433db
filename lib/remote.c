/* Reading manifests from a registry: server-side tagging (the manifest is
 * fetched and put back under new tags: no blob is sent) and inspection. */
#include "stowage/registry.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "json_text.h"
#include "manifest.h"
#include "registry_connect.h"
#include "registry_ref.h"
#include "remote.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void remote_close(struct remote *r)
{
	if (r->reg)
		registry_handle_give(r->reg, r->handle);
	registry_close(r->reg);
	registry_ref_release(&r->ref);
	free(r->scope);
}

int remote_open(struct remote *r, const char *ref, const char *actions, const struct stw_registry_options *opts)
{
	memset(r, 0, sizeof(*r));
	if (registry_ref_parse(&r->ref, ref) < 0 || registry_connect(&r->reg, r->ref.host, opts) < 0 ||
	    registry_scope(&r->scope, r->ref.repo, actions, NULL) < 0 || !(r->handle = registry_handle_take(r->reg)))
		return -1;
	return 0;
}

const char *remote_reference(const struct remote *r)
{
	return r->ref.digest ? r->ref.digest : r->ref.tag ? r->ref.tag : "latest";
}

/* GETs KIND/REFERENCE with req (its url filled in here) into resp,
 * which must answer 200. */
static int remote_fetch(struct remote *r, const char *kind, const char *reference, struct http_request *req,
			struct http_response *resp)
{
	char *url = NULL;
	int ret = -1;

	if (registry_url(&url, r->reg, r->ref.repo, "%s/%s", kind, reference) < 0)
		goto out;
	req->url = url;
	if (registry_request(r->reg, r->handle, r->scope, req, resp) < 0)
		goto out;
	if (resp->status != 200) {
		char why[300];
		registry_error_text(why, sizeof(why), resp);
		stw_error("%s/%s: %s %s not found: %s", r->reg->host, r->ref.repo, kind, reference, why);
		goto out;
	}
	ret = 0;
out:
	req->url = NULL;
	free(url);
	return ret;
}

int remote_get(struct remote *r, const char *kind, const char *reference, size_t max, struct buf *body,
	       char **media_type, char digest[72])
{
	struct http_request req = { .method = "GET", .accept = MANIFEST_ACCEPT, .max_body = max,
				    .follow_redirects = 1, .timeout_s = 300 };
	struct http_response resp;
	int ret = -1;

	http_response_init(&resp);
	if (remote_fetch(r, kind, reference, &req, &resp) < 0 || sha256_digest(digest, resp.body.data, resp.body.len) < 0)
		goto out;
	if ((!strncmp(reference, "sha256:", 7) && strcmp(reference, digest) != 0) ||
	    (resp.content_digest && !strcmp(kind, "manifests") && strcmp(resp.content_digest, digest) != 0)) {
		stw_error("%s/%s: the registry sent content that does not match %s", r->reg->host, r->ref.repo,
			  !strncmp(reference, "sha256:", 7) ? reference : resp.content_digest);
		goto out;
	}
	if (media_type) {
		const char *ct = resp.content_type ? resp.content_type : "";
		*media_type = strndup(ct, strcspn(ct, ";"));
	}
	buf_reset(body);
	ret = buf_add(body, resp.body.data, resp.body.len);
out:
	http_response_release(&resp);
	return ret;
}

int remote_get_blob_stream(struct remote *r, const char *digest, struct sink *sink)
{
	struct http_request req = { .method = "GET", .follow_redirects = 1, .body_sink = sink };
	struct http_response resp;
	int ret;

	http_response_init(&resp);
	ret = remote_fetch(r, "blobs", digest, &req, &resp);
	http_response_release(&resp);
	return ret;
}

/* The registry must store the bytes under the digest they have. */
static int put_tag(struct remote *r, const char *tag, const struct buf *manifest, const char *media_type)
{
	char digest[72];
	return registry_put_manifest(r->reg, r->handle, r->scope, r->ref.repo, tag, manifest->data, manifest->len,
				     media_type, digest);
}

int stw_tag(char digest_out[72], const char *ref, const char *const *tags, size_t tag_count,
	    const struct stw_registry_options *opts)
{
	struct remote r;
	struct buf manifest;
	char *media_type = NULL;
	int ret = -1;

	buf_init(&manifest);
	for (size_t i = 0; i < tag_count; i++)
		if (!registry_tag_valid(tags[i]))
			return stw_error("invalid tag '%s'", tags[i]);
	if (remote_open(&r, ref, "push,pull", opts) < 0)
		goto out;
	if (remote_get(&r, "manifests", remote_reference(&r), MAX_MANIFEST,
		       &manifest, &media_type, digest_out) < 0)
		goto out;
	for (size_t i = 0; i < tag_count; i++)
		if (put_tag(&r, tags[i], &manifest, media_type) < 0)
			goto out;
	ret = 0;
out:
	if (ret < 0)
		stw_error_wrap("cannot tag '%s'", ref);
	free(media_type);
	buf_release(&manifest);
	remote_close(&r);
	return ret;
}

int stw_remote_inspect(char **json_out, const char *ref, const struct stw_registry_options *opts)
{
	struct remote r;
	struct buf manifest, config;
	char *media_type = NULL, digest[72], config_digest[72];
	json_t *m = NULL, *out = NULL;
	int ret = -1;

	*json_out = NULL;
	buf_init(&manifest);
	buf_init(&config);
	if (remote_open(&r, ref, "pull", opts) < 0)
		goto out;
	if (remote_get(&r, "manifests", remote_reference(&r), MAX_MANIFEST,
		       &manifest, &media_type, digest) < 0)
		goto out;
	m = json_loadb(manifest.data, manifest.len, 0, NULL);
	if (!json_is_object(m)) {
		stw_error("the manifest of '%s' is not JSON", ref);
		goto out;
	}
	out = json_pack("{s:s,s:s,s:s,s:O}", "reference", ref, "manifest_digest", digest, "media_type", media_type,
			"manifest", m);
	if (!out)
		goto oom;
	if (json_is_string(json_object_get(json_object_get(m, "config"), "digest"))) {
		const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
		json_t *c;
		if (!digest_is_valid(cd)) {
			stw_error("the manifest of '%s' names an invalid config digest", ref);
			goto out;
		}
		if (remote_get(&r, "blobs", cd, MAX_CONFIG, &config, NULL, config_digest) < 0)
			goto out;
		c = json_loadb(config.data, config.len, 0, NULL);
		if (!c) {
			stw_error("the config of '%s' is not JSON", ref);
			goto out;
		}
		json_object_set_new(out, "config", c);
	}
	*json_out = stw_json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!*json_out)
		goto oom;
	ret = 0;
	goto out;
oom:
	stw_error("out of memory");
out:
	if (ret < 0)
		stw_error_wrap("cannot inspect '%s'", ref);
	json_decref(m);
	json_decref(out);
	free(media_type);
	buf_release(&manifest);
	buf_release(&config);
	remote_close(&r);
	return ret;
}

/* ---- image index ---- */

/* The platform object of a child manifest, from its config. */
static json_t *child_platform(struct remote *r, json_t *manifest, const char *child)
{
	const char *cd = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
	struct buf config;
	char digest[72];
	json_t *c = NULL, *platform = NULL;

	buf_init(&config);
	if (!cd || !digest_is_valid(cd)) {
		stw_error("'%s' is not an image manifest (an index cannot be nested here)", child);
		goto out;
	}
	if (remote_get(r, "blobs", cd, MAX_CONFIG, &config, NULL, digest) < 0)
		goto out;
	c = json_loadb(config.data, config.len, 0, NULL);
	if (!json_is_string(json_object_get(c, "architecture")) || !json_is_string(json_object_get(c, "os"))) {
		stw_error("the config of '%s' names no architecture and os", child);
		goto out;
	}
	platform = json_pack("{s:O,s:O}", "architecture", json_object_get(c, "architecture"), "os",
			     json_object_get(c, "os"));
	if (platform && json_is_string(json_object_get(c, "variant")))
		json_object_set(platform, "variant", json_object_get(c, "variant"));
	if (platform && json_is_string(json_object_get(c, "os.version")))
		json_object_set(platform, "os.version", json_object_get(c, "os.version"));
out:
	json_decref(c);
	buf_release(&config);
	return platform;
}

/* One entry of the index: the child as the registry holds it. */
static json_t *index_entry(struct remote *r, const char *child, int docker)
{
	struct registry_ref ref;
	struct buf body;
	char *media_type = NULL, digest[72];
	json_t *m = NULL, *entry = NULL, *platform;

	buf_init(&body);
	if (registry_ref_parse(&ref, child) < 0)
		return NULL;
	if (!ref.digest || strcmp(ref.host, r->ref.host) != 0 || strcmp(ref.repo, r->ref.repo) != 0) {
		stw_error("child '%s' must be %s/%s@sha256:... (by digest, in the index's repository)", child,
			  r->ref.host, r->ref.repo);
		goto out;
	}
	if (remote_get(r, "manifests", ref.digest, MAX_MANIFEST, &body, &media_type, digest) < 0)
		goto out;
	if (docker && strcmp(media_type, DOCKER_MANIFEST_TYPE) != 0) {
		stw_error("child '%s' is %s: a Docker manifest list lists Docker manifests (push with --format v2s2)",
			  child, media_type);
		goto out;
	}
	if (strcmp(media_type, OCI_MANIFEST_TYPE) != 0 && strcmp(media_type, DOCKER_MANIFEST_TYPE) != 0) {
		stw_error("child '%s' is %s, not an image manifest", child, media_type);
		goto out;
	}
	m = json_loadb(body.data, body.len, 0, NULL);
	if (!(platform = child_platform(r, m, child)))
		goto out;
	entry = json_pack("{s:s,s:s,s:I,s:o}", "mediaType", media_type, "digest", digest, "size",
			  (json_int_t)body.len, "platform", platform);
out:
	json_decref(m);
	free(media_type);
	buf_release(&body);
	registry_ref_release(&ref);
	return entry;
}

static int index_annotations(json_t *index, const char *const *annotations, size_t count, int docker)
{
	json_t *a;
	if (!count)
		return 0;
	if (docker)
		return stw_error("a Docker manifest list has no annotations: use --format oci");
	a = json_object();
	for (size_t i = 0; i < count; i++) {
		const char *eq = strchr(annotations[i], '=');
		char *key;
		if (!eq || eq == annotations[i]) {
			json_decref(a);
			return stw_error("annotation '%s' is not KEY=VALUE", annotations[i]);
		}
		key = strndup(annotations[i], (size_t)(eq - annotations[i]));
		json_object_set_new(a, key, json_string(eq + 1));
		free(key);
	}
	return json_object_set_new(index, "annotations", a);
}

int stw_index(char digest_out[72], const char *tag_ref, const char *const *children, size_t child_count,
	      const char *const *annotations, size_t annotation_count, const struct stw_registry_options *opts)
{
	int docker = opts->docker_format;
	struct remote r;
	struct buf bytes;
	json_t *index = NULL, *list = json_array();
	char *text = NULL;
	int ret = -1;

	buf_init(&bytes);
	memset(&r, 0, sizeof(r));
	if (!child_count) {
		stw_error("an index needs at least one image");
		goto out;
	}
	if (remote_open(&r, tag_ref, "push,pull", opts) < 0)
		goto out;
	if (!r.ref.tag || r.ref.digest) {
		stw_error("--tag '%s' must be HOST/REPO:TAG", tag_ref);
		goto out;
	}
	for (size_t i = 0; i < child_count; i++) {
		json_t *entry = index_entry(&r, children[i], docker);
		if (!entry || json_array_append_new(list, entry) < 0)
			goto out;
	}
	index = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", docker ? DOCKER_LIST_TYPE : OCI_INDEX_TYPE,
			  "manifests", list);
	if (!index || index_annotations(index, annotations, annotation_count, docker) < 0)
		goto out;
	text = stw_json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || buf_adds(&bytes, text) < 0)
		goto out;
	ret = registry_put_manifest(r.reg, r.handle, r.scope, r.ref.repo, r.ref.tag, bytes.data, bytes.len,
				    docker ? DOCKER_LIST_TYPE : OCI_INDEX_TYPE, digest_out);
out:
	if (ret < 0)
		stw_error_wrap("cannot push index '%s'", tag_ref);
	free(text);
	json_decref(index);
	json_decref(list);
	buf_release(&bytes);
	remote_close(&r);
	return ret;
}
