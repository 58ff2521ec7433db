#include "cli.h"
#include "json_text.h"
#include "registry_args.h"
#include "stowage/error.h"
#include "stowage/release.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
	"usage: stowage release IMAGE.json... --repository HOST[:PORT]/REPO [options]\n"
	"\n"
	"Publishes per-architecture images as one release (docs/release-cli.md): each\n"
	"image pushed by digest, an index over those digests under the primary tag,\n"
	"then every further tag server-side. One image goes straight to the primary tag.\n"
	"\n"
	"  --repository HOST/REPO   where to publish (repeatable: each gets every tag)\n"
	"  --version V              primary tag, a leading v stripped (default $VERSION)\n"
	"  --tag T                  explicit tags (repeatable; default $TAGS, comma-separated)\n"
	"  --branch B               default $GITHUB_REF_NAME; 'latest' is added on the default\n"
	"                           branch when no explicit tag is given\n"
	"  --default-branch B       default main\n"
	"  --auto-tags LIST         major,minor (MAJOR.MINOR and MAJOR, not for prereleases), branch\n"
	"  --arch-tags              also tag each image VERSION-<arch>\n"
	"  --annotation K=V         on the index (repeatable), besides created, revision,\n"
	"                           source and version\n"
	"  --source URL             org.opencontainers.image.source (default from $GITHUB_*)\n"
	"  --dry-run                print the requests it would make; contact no registry\n"
	"\n" REGISTRY_OPTIONS_HELP;

enum {
	OPT_REPOSITORY = 3000, OPT_VERSION, OPT_TAG, OPT_BRANCH, OPT_DEFAULT_BRANCH, OPT_AUTO_TAGS, OPT_ARCH_TAGS,
	OPT_ANNOTATION, OPT_SOURCE, OPT_DRY_RUN,
};

struct release_cli {
	struct registry_args reg;
	struct strlist repositories, tags, annotations, owned;
	const char *version, *branch, *default_branch, *source;
	unsigned auto_tags;
	int arch_tags, dry_run;
};

static int parse_auto_tags(unsigned *out, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;
	if (!copy)
		return cli_fail("out of memory");
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "major"))
			*out |= STW_AUTO_TAG_MAJOR;
		else if (!strcmp(t, "minor"))
			*out |= STW_AUTO_TAG_MINOR;
		else if (!strcmp(t, "branch"))
			*out |= STW_AUTO_TAG_BRANCH;
		else
			rc = cli_usage("release", "--auto-tags takes major, minor and branch, not '%s'", t);
	}
	free(copy);
	return rc;
}

static int parse(struct release_cli *c, int argc, char **argv)
{
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "repository", required_argument, NULL, OPT_REPOSITORY },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "branch", required_argument, NULL, OPT_BRANCH },
		{ "default-branch", required_argument, NULL, OPT_DEFAULT_BRANCH },
		{ "auto-tags", required_argument, NULL, OPT_AUTO_TAGS },
		{ "arch-tags", no_argument, NULL, OPT_ARCH_TAGS },
		{ "annotation", required_argument, NULL, OPT_ANNOTATION },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc = 0;

	optind = 1;
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'h': fputs(help, stdout); return -1;
		case OPT_REPOSITORY: rc = strlist_push(&c->repositories, optarg); break;
		case OPT_VERSION: c->version = optarg; break;
		case OPT_TAG: rc = strlist_push(&c->tags, optarg); break;
		case OPT_BRANCH: c->branch = optarg; break;
		case OPT_DEFAULT_BRANCH: c->default_branch = optarg; break;
		case OPT_AUTO_TAGS: rc = parse_auto_tags(&c->auto_tags, optarg); break;
		case OPT_ARCH_TAGS: c->arch_tags = 1; break;
		case OPT_ANNOTATION: rc = strlist_push(&c->annotations, optarg); break;
		case OPT_SOURCE: c->source = optarg; break;
		case OPT_DRY_RUN: c->dry_run = 1; break;
		default:
			rc = registry_args_option(&c->reg, opt, optarg, "release");
			if (rc == 0)
				return cli_usage("release", "unknown or incomplete option '%s'", argv[optind - 1]);
			rc = rc == 1 ? 0 : rc;
		}
	}
	if (rc)
		return rc < 0 ? cli_fail("out of memory") : rc;
	if (optind >= argc || !c->repositories.count)
		return cli_usage("release", "expected IMAGE.json... and --repository HOST/REPO");
	return 0;
}

/* TAGS="a, b,c" from the environment, when no --tag was given. */
static int env_tags(struct release_cli *c)
{
	const char *env = getenv("TAGS");
	char *copy, *save = NULL;
	if (c->tags.count || !env || !*env)
		return 0;
	if (!(copy = strdup(env)) || strlist_push_owned(&c->owned, copy) < 0)
		return cli_fail("out of memory");
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (strlist_push(&c->tags, t) < 0)
			return cli_fail("out of memory");
	return 0;
}

/* git rev-parse HEAD, when run in a work tree; "" otherwise. */
static void git_revision(char *out, size_t len)
{
	FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
	out[0] = 0;
	if (!p)
		return;
	if (!fgets(out, (int)len, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	if (pclose(p) != 0 || strlen(out) < 7)
		out[0] = 0;
}

static int add_annotation(struct release_cli *c, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *a = malloc(len);
	if (!a)
		return cli_fail("out of memory");
	snprintf(a, len, "%s=%s", key, value);
	if (strlist_push_owned(&c->owned, a) < 0 || strlist_push(&c->annotations, a) < 0)
		return cli_fail("out of memory");
	return 0;
}

/* created, revision, source, version: the index's standard annotations,
 * before the user's (which may override them: later keys win). */
static int standard_annotations(struct release_cli *c, const char *version)
{
	struct strlist user = c->annotations;
	const char *epoch = getenv("SOURCE_DATE_EPOCH"), *server = getenv("GITHUB_SERVER_URL"),
		   *repo = getenv("GITHUB_REPOSITORY");
	char created[32], revision[64], source[512];
	time_t t = epoch && *epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
	int rc;

	memset(&c->annotations, 0, sizeof(c->annotations));
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	git_revision(revision, sizeof(revision));
	if (!c->source && server && repo && *server && *repo) {
		snprintf(source, sizeof(source), "%s/%s", server, repo);
		c->source = source;
	}
	rc = add_annotation(c, "org.opencontainers.image.created", created);
	if (!rc && *revision)
		rc = add_annotation(c, "org.opencontainers.image.revision", revision);
	if (!rc && c->source)
		rc = add_annotation(c, "org.opencontainers.image.source", c->source);
	if (!rc)
		rc = add_annotation(c, "org.opencontainers.image.version", version);
	for (size_t i = 0; !rc && i < user.count; i++)
		if (strlist_push(&c->annotations, user.items[i]) < 0)
			rc = cli_fail("out of memory");
	strlist_release(&user);
	return rc;
}

static void print_plan(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

static void report(const struct release_cli *c, const struct stw_release_result *r, char **tags, size_t count)
{
	if (c->reg.json && !c->dry_run) {
		json_t *out = json_pack("{s:s,s:[],s:[]}", "version", tags[0], "tags", "repositories");
		for (size_t i = 0; i < count; i++)
			json_array_append_new(json_object_get(out, "tags"), json_string(tags[i]));
		for (size_t i = 0; i < r->repository_count; i++) {
			const struct stw_release_repository *rr = &r->repositories[i];
			json_t *images = json_array();
			for (size_t k = 0; k < rr->image_count; k++)
				json_array_append_new(images, json_pack("{s:s,s:s,s:I}", "architecture",
									rr->images[k].architecture, "digest",
									rr->images[k].digest, "bytes_uploaded",
									(json_int_t)rr->images[k].bytes_uploaded));
			json_array_append_new(json_object_get(out, "repositories"),
					      json_pack("{s:s,s:s,s:b,s:o}", "repository", rr->repository, "digest",
							rr->digest, "index", rr->index, "images", images));
		}
		char *text = stw_json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		if (text)
			puts(text);
		free(text);
		json_decref(out);
		return;
	}
	if (c->dry_run) {
		char bytes[32];
		cli_format_bytes(bytes, sizeof(bytes), r->planned_bytes);
		printf("# dry run: at most %s to upload per repository; nothing was sent\n", bytes);
		return;
	}
	for (size_t i = 0; i < r->repository_count; i++) {
		fprintf(stderr, "stowage: released %s:%s (%s %s; tags", r->repositories[i].repository, tags[0],
			r->repositories[i].index ? "index" : "manifest", r->repositories[i].digest);
		for (size_t t = 0; t < count; t++)
			fprintf(stderr, "%s %s", t ? "," : "", tags[t]);
		fprintf(stderr, ")\n");
	}
}

int cmd_release(int argc, char **argv)
{
	struct release_cli c = { .default_branch = "main" };
	struct stw_release_options o = { 0 };
	struct stw_release_result result = { 0 };
	struct stw_image **images = NULL;
	char **tags = NULL;
	size_t tag_count = 0, image_count = 0;
	int rc;

	registry_args_init(&c.reg);
	c.version = getenv("VERSION");
	c.branch = getenv("GITHUB_REF_NAME");
	rc = parse(&c, argc, argv);
	if (rc)
		goto out;
	if (!c.version || !*c.version) {
		rc = cli_usage("release", "no version: give --version or set VERSION");
		goto out;
	}
	if ((rc = env_tags(&c)))
		goto out;
	if (stw_release_tags(&tags, &tag_count, c.version, (const char *const *)c.tags.items, c.tags.count, c.branch,
			     c.default_branch, c.auto_tags) < 0) {
		rc = cli_usage("release", "%s", stw_error_last());
		goto out;
	}
	if (!c.reg.opts.docker_format && (rc = standard_annotations(&c, tags[0])))
		goto out;
	if ((rc = registry_args_finish(&c.reg)))
		goto out;
	image_count = (size_t)(argc - optind);
	images = calloc(image_count, sizeof(*images));
	if (!images) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < image_count; i++)
		if (stw_image_load(&images[i], argv[optind + (int)i]) < 0) {
			rc = cli_fail_lib();
			goto out;
		}
	o.images = (const struct stw_image *const *)images;
	o.image_count = image_count;
	o.repositories = (const char *const *)c.repositories.items;
	o.repository_count = c.repositories.count;
	o.tags = (const char *const *)tags;
	o.tag_count = tag_count;
	o.arch_tags = c.arch_tags;
	o.annotations = (const char *const *)c.annotations.items;
	o.annotation_count = c.annotations.count;
	o.dry_run = c.dry_run;
	o.plan = c.dry_run ? print_plan : NULL;
	o.registry = c.reg.opts;
	if (stw_release(&result, &o) < 0) {
		rc = cli_fail_lib();
		goto out;
	}
	report(&c, &result, tags, tag_count);
	rc = 0;
out:
	if (rc < 0)
		rc = 0; /* --help */
	stw_release_result_release(&result);
	for (size_t i = 0; images && i < image_count; i++)
		stw_image_free(images[i]);
	free(images);
	stw_release_tags_free(tags, tag_count);
	strlist_release(&c.repositories);
	strlist_release(&c.tags);
	strlist_release(&c.annotations);
	strlist_release(&c.owned);
	return rc;
}
