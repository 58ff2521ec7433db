#include "stowage/release.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "manifest.h"
#include "registry_ref.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tags ---- */

void stw_release_tags_free(char **tags, size_t count)
{
	for (size_t i = 0; tags && i < count; i++)
		free(tags[i]);
	free(tags);
}

static int add_tag(char ***tags, size_t *count, const char *tag)
{
	char **grown;
	if (!registry_tag_valid(tag))
		return stw_error("'%s' is not a valid tag", tag);
	for (size_t i = 0; i < *count; i++)
		if (!strcmp((*tags)[i], tag))
			return 0;
	grown = realloc(*tags, (*count + 1) * sizeof(**tags));
	if (!grown)
		return stw_error("out of memory");
	*tags = grown;
	if (!(grown[*count] = strdup(tag)))
		return stw_error("out of memory");
	(*count)++;
	return 0;
}

/* "1.2.3" -> "1.2" and "1" (only for plain MAJOR.MINOR[.PATCH...]). */
static int version_parts(const char *v, char *major, char *minor, size_t len)
{
	size_t a = strspn(v, "0123456789"), b;
	if (!a || v[a] != '.')
		return 0;
	b = strspn(v + a + 1, "0123456789");
	if (!b || (v[a + 1 + b] && v[a + 1 + b] != '.') || a + 1 + b >= len)
		return 0;
	snprintf(major, len, "%.*s", (int)a, v);
	snprintf(minor, len, "%.*s", (int)(a + 1 + b), v);
	return 1;
}

static void branch_tag(char *out, size_t len, const char *branch)
{
	size_t i = 0;
	for (; branch[i] && i + 1 < len && i < 128; i++) {
		char c = branch[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			 c == '.' || c == '-';
		out[i] = ok ? c : '-';
	}
	out[i] = 0;
	if (out[0] == '.' || out[0] == '-')
		out[0] = '_';
}

int stw_release_tags(char ***out, size_t *count, const char *version, const char *const *tags, size_t tag_count,
		     const char *branch, const char *default_branch, unsigned auto_tags)
{
	char major[64], minor[64], btag[130];
	const char *v;

	*out = NULL;
	*count = 0;
	if (!version || !*version)
		return stw_error("no version: give --version or set VERSION");
	v = version[0] == 'v' ? version + 1 : version;
	if (add_tag(out, count, v) < 0)
		goto fail;
	for (size_t i = 0; i < tag_count; i++)
		if (*tags[i] && add_tag(out, count, tags[i]) < 0)
			goto fail;
	if (!tag_count && branch && default_branch && !strcmp(branch, default_branch) && add_tag(out, count, "latest") < 0)
		goto fail;
	if ((auto_tags & (STW_AUTO_TAG_MAJOR | STW_AUTO_TAG_MINOR)) && !strchr(v, '-') &&
	    version_parts(v, major, minor, sizeof(major))) {
		if ((auto_tags & STW_AUTO_TAG_MINOR) && add_tag(out, count, minor) < 0)
			goto fail;
		if ((auto_tags & STW_AUTO_TAG_MAJOR) && add_tag(out, count, major) < 0)
			goto fail;
	}
	if ((auto_tags & STW_AUTO_TAG_BRANCH) && branch && *branch) {
		branch_tag(btag, sizeof(btag), branch);
		if (add_tag(out, count, btag) < 0)
			goto fail;
	}
	return 0;
fail:
	stw_release_tags_free(*out, *count);
	*out = NULL;
	*count = 0;
	return -1;
}

/* ---- the flow ---- */

void stw_release_result_release(struct stw_release_result *r)
{
	for (size_t i = 0; i < r->repository_count; i++)
		free(r->repositories[i].images);
	free(r->repositories);
	memset(r, 0, sizeof(*r));
}

static void plan(const struct stw_release_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plan(const struct stw_release_options *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!o->plan)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->plan(o->plan_ctx, line);
}

static void image_arch(char *out, size_t len, const struct stw_image *img)
{
	json_t *c = json_loads(img->config_json, 0, NULL);
	const char *arch = json_string_value(json_object_get(c, "architecture"));
	snprintf(out, len, "%s", arch ? arch : "unknown");
	json_decref(c);
}

/* "os/arch[/variant]" of an image, from its config. */
static void image_platform(char *out, size_t len, const struct stw_image *img)
{
	json_t *c = json_loads(img->config_json, 0, NULL);
	const char *variant = json_string_value(json_object_get(c, "variant"));
	snprintf(out, len, "%s/%s%s%s", json_string_value(json_object_get(c, "os")),
		 json_string_value(json_object_get(c, "architecture")), variant ? "/" : "", variant ? variant : "");
	json_decref(c);
}

static int join_ref(char *out, size_t len, const char *repo, char sep, const char *ref)
{
	if ((size_t)snprintf(out, len, "%s%c%s", repo, sep, ref) >= len)
		return stw_error("reference '%s' is too long", repo);
	return 0;
}

/* What a dry run would send for one image: the blob uploads at most, the
 * manifest by digest. */
static int plan_image(const struct stw_release_options *o, const char *repo, const struct stw_image *img,
		      struct stw_release_image *ri, const char *where, uint64_t *bytes)
{
	char *manifest = NULL;
	if (stw_image_manifest_as(&manifest, img, o->registry.docker_format) < 0 ||
	    sha256_digest(ri->digest, manifest, strlen(manifest)) < 0) {
		free(manifest);
		return -1;
	}
	for (size_t i = 0; i < img->layer_count; i++) {
		plan(o, "HEAD %s/blobs/%s", repo, img->layers[i].digest);
		plan(o, "POST+PATCH+PUT %s/blobs/uploads/ (%llu bytes, only if missing)", repo,
		     (unsigned long long)img->layers[i].size);
		*bytes += img->layers[i].size;
	}
	plan(o, "HEAD %s/blobs/%s", repo, img->config_digest);
	plan(o, "POST+PUT %s/blobs/uploads/ (%zu bytes, only if missing)", repo, strlen(img->config_json));
	*bytes += strlen(img->config_json);
	plan(o, "PUT %s/manifests/%s", repo, where ? where : ri->digest);
	free(manifest);
	return 0;
}

static int release_one(struct stw_release_repository *rr, const struct stw_release_options *o, const char *repo,
		       uint64_t *planned)
{
	int multi = o->image_count > 1;
	char ref[640], **children = NULL;
	int ret = -1;

	snprintf(rr->repository, sizeof(rr->repository), "%s", repo);
	rr->index = multi;
	rr->images = calloc(o->image_count, sizeof(*rr->images));
	children = calloc(o->image_count, sizeof(*children));
	if (!rr->images || !children) {
		stw_error("out of memory");
		goto out;
	}
	rr->image_count = o->image_count;
	for (size_t i = 0; i < o->image_count; i++) {
		struct stw_release_image *ri = &rr->images[i];
		struct stw_push_result pr;
		image_arch(ri->architecture, sizeof(ri->architecture), o->images[i]);
		if (!multi && join_ref(ref, sizeof(ref), repo, ':', o->tags[0]) < 0)
			goto out;
		if (o->dry_run) {
			if (plan_image(o, repo, o->images[i], ri, multi ? NULL : o->tags[0], planned) < 0)
				goto out;
		} else {
			if ((multi ? stw_push_by_digest(&pr, o->images[i], repo, &o->registry)
				   : stw_push(&pr, o->images[i], ref, &o->registry)) < 0)
				goto out;
			memcpy(ri->digest, pr.manifest_digest, sizeof(ri->digest));
			ri->bytes_uploaded = pr.bytes_uploaded;
			stw_push_result_release(&pr);
		}
		if (join_ref(ref, sizeof(ref), repo, '@', ri->digest) < 0 || !(children[i] = strdup(ref))) {
			stw_error("out of memory");
			goto out;
		}
		if (multi && o->arch_tags) {
			char arch_tag[160];
			const char *tag = arch_tag;
			snprintf(arch_tag, sizeof(arch_tag), "%s-%s", o->tags[0], ri->architecture);
			plan(o, "PUT %s/manifests/%s", repo, arch_tag);
			if (!o->dry_run) {
				char digest[72];
				if (stw_tag(digest, ref, &tag, 1, &o->registry) < 0)
					goto out;
			}
		}
	}
	if (join_ref(ref, sizeof(ref), repo, ':', o->tags[0]) < 0)
		goto out;
	if (multi) {
		plan(o, "PUT %s/manifests/%s (index of %zu images)", repo, o->tags[0], o->image_count);
		if (!o->dry_run && stw_index(rr->digest, ref, (const char *const *)children, o->image_count,
					     o->annotations, o->annotation_count, &o->registry) < 0)
			goto out;
	} else {
		memcpy(rr->digest, rr->images[0].digest, sizeof(rr->digest));
	}
	for (size_t t = 1; t < o->tag_count; t++)
		plan(o, "PUT %s/manifests/%s", repo, o->tags[t]);
	if (!o->dry_run && o->tag_count > 1) {
		char digest[72];
		if (stw_tag(digest, ref, o->tags + 1, o->tag_count - 1, &o->registry) < 0)
			goto out;
		if (strcmp(digest, rr->digest) != 0 && multi) {
			stw_error("%s changed while being tagged (now %s)", ref, digest);
			goto out;
		}
		memcpy(rr->digest, digest, sizeof(rr->digest));
	}
	ret = 0;
out:
	for (size_t i = 0; children && i < o->image_count; i++)
		free(children[i]);
	free(children);
	return ret;
}

int stw_release(struct stw_release_result *out, const struct stw_release_options *o)
{
	memset(out, 0, sizeof(*out));
	if (!o->image_count || !o->repository_count || !o->tag_count)
		return stw_error("a release needs images, a repository and a version");
	for (size_t i = 0; i < o->image_count; i++) {
		char a[64], b[64];
		if (!o->images[i]->has_config)
			return stw_error("a layer JSON cannot be released: use stowage build");
		image_platform(a, sizeof(a), o->images[i]);
		for (size_t k = 0; k < i; k++) {
			image_platform(b, sizeof(b), o->images[k]);
			if (!strcmp(a, b)) /* clients would only ever pick the first */
				return stw_error("two images for %s: a release holds one image per platform", a);
		}
	}
	out->repositories = calloc(o->repository_count, sizeof(*out->repositories));
	if (!out->repositories)
		return stw_error("out of memory");
	for (size_t r = 0; r < o->repository_count; r++) {
		out->repository_count = r + 1;
		if (release_one(&out->repositories[r], o, o->repositories[r], &out->planned_bytes) < 0)
			return stw_error_wrap("cannot release to '%s'", o->repositories[r]);
	}
	return 0;
}
