#include "build_common.h"
#include "cli.h"
#include "nix_closure.h"
#include "stowage/build.h"
#include "stowage/error.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
	OPT_GRAPH = 256, OPT_ROOT, OPT_LAYER, OPT_MAX_LAYERS, OPT_STRATEGY, OPT_COMPRESSION, OPT_PERM,
	OPT_STORE_DIR, OPT_CACHE_DIR, OPT_NO_CACHE, OPT_JOBS, OPT_JSON, OPT_ENTRYPOINT, OPT_CMD, OPT_ENV,
	OPT_USER, OPT_WORKDIR, OPT_LABEL, OPT_EXPOSE, OPT_VOLUME, OPT_ARCH, OPT_OS, OPT_VARIANT, OPT_CREATED,
	OPT_AUTHOR, OPT_NAME, OPT_TAG, OPT_HELP,
};

static const struct option options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "graph", required_argument, NULL, OPT_GRAPH },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "layer", required_argument, NULL, OPT_LAYER },
	{ "max-layers", required_argument, NULL, OPT_MAX_LAYERS },
	{ "strategy", required_argument, NULL, OPT_STRATEGY },
	{ "compression", required_argument, NULL, OPT_COMPRESSION },
	{ "perm", required_argument, NULL, OPT_PERM },
	{ "store-dir", required_argument, NULL, OPT_STORE_DIR },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
	{ "cmd", required_argument, NULL, OPT_CMD },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "user", required_argument, NULL, OPT_USER },
	{ "workdir", required_argument, NULL, OPT_WORKDIR },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "expose", required_argument, NULL, OPT_EXPOSE },
	{ "volume", required_argument, NULL, OPT_VOLUME },
	{ "arch", required_argument, NULL, OPT_ARCH },
	{ "os", required_argument, NULL, OPT_OS },
	{ "variant", required_argument, NULL, OPT_VARIANT },
	{ "created", required_argument, NULL, OPT_CREATED },
	{ "author", required_argument, NULL, OPT_AUTHOR },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct build_cli {
	struct strlist store_paths, graphs, roots, layer_files, perm_texts;
	struct strlist entrypoint, cmd, env, labels, exposed, volumes;
	const char *output, *strategy, *compression, *store_dir, *cache_dir;
	struct stw_image_config config;
	const char *name, *tag;
	long max_layers;
	int jobs, no_cache, json;
};

static void build_cli_release(struct build_cli *c)
{
	struct strlist *lists[] = { &c->store_paths, &c->graphs, &c->roots, &c->layer_files, &c->perm_texts,
				    &c->entrypoint, &c->cmd, &c->env, &c->labels, &c->exposed, &c->volumes };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		strlist_release(lists[i]);
}

/* --entrypoint/--cmd: a JSON array of strings, or one string. */
static int parse_argv_option(struct strlist *list, const char *value, const char *what)
{
	json_error_t err;
	json_t *a, *item;
	size_t i;

	if (value[0] != '[')
		return strlist_push_owned(list, strdup(value)) < 0 ? cli_fail("out of memory") : 0;
	a = json_loads(value, 0, &err);
	if (!json_is_array(a)) {
		json_decref(a);
		return cli_usage(what, "--%s '%s' is not a JSON array of strings", what, value);
	}
	json_array_foreach(a, i, item) {
		if (!json_is_string(item)) {
			json_decref(a);
			return cli_usage(what, "--%s '%s' is not a JSON array of strings", what, value);
		}
		if (strlist_push_owned(list, strdup(json_string_value(item))) < 0) {
			json_decref(a);
			return cli_fail("out of memory");
		}
	}
	json_decref(a);
	return 0;
}

static int parse_long(long *out, const char *text, long min, long max, const char *cmd, const char *what)
{
	char *end;
	errno = 0;
	*out = strtol(text, &end, 10);
	if (errno || *end || end == text || *out < min || *out > max)
		return cli_usage(cmd, "%s must be a number from %ld to %ld, not '%s'", what, min, max, text);
	return 0;
}

/* "REGEX=MODE[:UID[:GID]]"; empty fields are left alone. */
static int parse_perm(struct stw_perm_rule *r, const char *text, const char *cmd)
{
	const char *eq = strrchr(text, '=');
	char *fields, *mode, *uid, *gid, *end;
	int ret = 0;

	r->mode = -1;
	r->uid = r->gid = -1;
	if (!eq || eq == text)
		return cli_usage(cmd, "--perm '%s' is not REGEX=MODE[:UID[:GID]]", text);
	r->regex = strndup(text, (size_t)(eq - text));
	fields = strdup(eq + 1);
	if (!r->regex || !fields) {
		free(fields);
		return cli_fail("out of memory");
	}
	mode = fields;
	uid = strchr(mode, ':');
	if (uid)
		*uid++ = 0;
	gid = uid ? strchr(uid, ':') : NULL;
	if (gid)
		*gid++ = 0;
	if (*mode) {
		long m = strtol(mode, &end, 8);
		if (*end || m < 0 || m > 07777)
			ret = cli_usage(cmd, "--perm '%s': mode '%s' is not octal", text, mode);
		r->mode = (int)m;
	}
	if (!ret && uid && *uid) {
		r->uid = strtoll(uid, &end, 10);
		if (*end || r->uid < 0)
			ret = cli_usage(cmd, "--perm '%s': uid '%s' is not a number", text, uid);
	}
	if (!ret && gid && *gid) {
		r->gid = strtoll(gid, &end, 10);
		if (*end || r->gid < 0)
			ret = cli_usage(cmd, "--perm '%s': gid '%s' is not a number", text, gid);
	}
	free(fields);
	return ret;
}

static int image_only(int image, const char *cmd, const char *opt)
{
	return image ? 0 : cli_usage(cmd, "--%s sets the image config: it belongs to 'stowage build'", opt);
}

static int parse_args(struct build_cli *c, int argc, char **argv, int image, const char *help)
{
	const char *cmd = argv[0];
	int opt, index;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", options, &index)) != -1) {
		int rc = 0;
		if (opt >= OPT_ENTRYPOINT && opt <= OPT_TAG && (rc = image_only(image, cmd, options[index].name)))
			return rc;
		switch (opt) {
		case 'o': c->output = optarg; break;
		case OPT_GRAPH: rc = strlist_push(&c->graphs, optarg); break;
		case OPT_ROOT: rc = strlist_push(&c->roots, optarg); break;
		case OPT_LAYER: rc = strlist_push(&c->layer_files, optarg); break;
		case OPT_MAX_LAYERS: rc = parse_long(&c->max_layers, optarg, 1, 1000, cmd, "--max-layers"); break;
		case OPT_STRATEGY: c->strategy = optarg; break;
		case OPT_COMPRESSION: c->compression = optarg; break;
		case OPT_PERM: rc = strlist_push(&c->perm_texts, optarg); break;
		case OPT_STORE_DIR: c->store_dir = optarg; break;
		case OPT_CACHE_DIR: c->cache_dir = optarg; break;
		case OPT_NO_CACHE: c->no_cache = 1; break;
		case OPT_JOBS: {
			long jobs;
			rc = parse_long(&jobs, optarg, 1, 256, cmd, "--jobs");
			c->jobs = (int)jobs;
			break;
		}
		case OPT_JSON: c->json = 1; break;
		case OPT_ENTRYPOINT:
			c->config.has_entrypoint = 1;
			rc = parse_argv_option(&c->entrypoint, optarg, "entrypoint");
			break;
		case OPT_CMD:
			c->config.has_cmd = 1;
			rc = parse_argv_option(&c->cmd, optarg, "cmd");
			break;
		case OPT_ENV: rc = strlist_push(&c->env, optarg); break;
		case OPT_USER: c->config.user = optarg; break;
		case OPT_WORKDIR: c->config.workdir = optarg; break;
		case OPT_LABEL: rc = strlist_push(&c->labels, optarg); break;
		case OPT_EXPOSE: rc = strlist_push(&c->exposed, optarg); break;
		case OPT_VOLUME: rc = strlist_push(&c->volumes, optarg); break;
		case OPT_ARCH: c->config.architecture = optarg; break;
		case OPT_OS: c->config.os = optarg; break;
		case OPT_VARIANT: c->config.variant = optarg; break;
		case OPT_CREATED: c->config.created = optarg; break;
		case OPT_AUTHOR: c->config.author = optarg; break;
		case OPT_NAME: c->name = optarg; break;
		case OPT_TAG: c->tag = optarg; break;
		case OPT_HELP: fputs(help, stdout); return -1;
		default: return cli_usage(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
		if (rc)
			return rc < 0 ? cli_fail("out of memory") : rc;
	}
	for (int i = optind; i < argc; i++)
		if (strlist_push(&c->store_paths, argv[i]) < 0)
			return cli_fail("out of memory");
	if (c->json && !c->output)
		return cli_usage(cmd, "--json prints a summary on stdout: give -o FILE for the JSON itself");
	if (image && !c->config.architecture)
		return cli_usage(cmd, "no architecture: give --arch (amd64, arm64, ...)");
	if (!c->store_paths.count && !c->graphs.count && !c->roots.count && !c->layer_files.count)
		return cli_usage(cmd, "nothing to put in the image: give store paths, --graph, --root or --layer");
	return 0;
}

static int is_store_path(const char *path, const char *store_dir)
{
	size_t len = strlen(store_dir);
	return !strncmp(path, store_dir, len) && path[len] == '/' && path[len + 1];
}

/* Resolves ./result-style symlinks so paths are real store paths. */
static int resolve_paths(struct strlist *out, const struct strlist *in, const char *what, int store_only,
			 const char *store_dir)
{
	for (size_t i = 0; i < in->count; i++) {
		char *real = realpath(in->items[i], NULL);
		if (!real)
			return cli_fail("cannot read %s '%s': %s", what, in->items[i], strerror(errno));
		if (store_only && !is_store_path(real, store_dir)) {
			free(real);
			return cli_fail("%s '%s' is not in the Nix store (%s): use --graph for plain directories", what,
					in->items[i], store_dir);
		}
		if (strlist_push_owned(out, real) < 0)
			return cli_fail("out of memory");
	}
	return 0;
}

static int read_graphs(struct stw_graph *closure, const struct strlist *files)
{
	for (size_t i = 0; i < files->count; i++) {
		struct stw_graph *g = NULL;
		char *data = NULL;
		size_t len = 0;
		FILE *f = fopen(files->items[i], "rb");
		int rc;
		if (!f)
			return cli_fail("cannot read closure graph '%s': %s", files->items[i], strerror(errno));
		rc = (getdelim(&data, &len, 0, f) < 0 && ferror(f)) ? -1 : 0;
		fclose(f);
		if (rc < 0) {
			free(data);
			return cli_fail("cannot read closure graph '%s'", files->items[i]);
		}
		rc = stw_graph_parse(&g, data ? data : "", data ? strlen(data) : 0, files->items[i]);
		free(data);
		if (rc < 0)
			return cli_fail_lib();
		rc = stw_graph_merge(closure, g);
		stw_graph_free(g);
		if (rc < 0)
			return cli_fail_lib();
	}
	return 0;
}

/* Store paths on the command line (and --root trees, when no --graph
 * describes them) get their closure from Nix. */
static int collect_closure(struct stw_graph *closure, const struct build_cli *c, const struct strlist *paths,
			   const struct strlist *roots, const char *store_dir, const char *cache_dir)
{
	struct strlist ask = { 0 };
	struct stw_graph *g = NULL;
	int rc = 0;

	if (read_graphs(closure, &c->graphs))
		return 1;
	for (size_t i = 0; i < paths->count; i++)
		strlist_push(&ask, paths->items[i]);
	for (size_t i = 0; !c->graphs.count && i < roots->count; i++)
		if (is_store_path(roots->items[i], store_dir))
			strlist_push(&ask, roots->items[i]);
	if (ask.count) {
		rc = nix_closure(&g, ask.items, ask.count, store_dir, cache_dir);
		if (!rc && stw_graph_merge(closure, g) < 0)
			rc = cli_fail_lib();
	}
	stw_graph_free(g);
	strlist_release(&ask);
	return rc;
}

static void print_summary(const struct build_cli *c, const struct stw_image *img, const struct stw_build_stats *s)
{
	char bytes[32];
	unsigned long long total = 0;

	for (size_t i = 0; i < img->layer_count; i++)
		total += img->layers[i].size;
	if (c->json) {
		printf("{\"layers\":%zu,\"layers_computed\":%zu,\"layers_cached\":%zu,\"bytes_hashed\":%llu,"
		       "\"size\":%llu}\n",
		       img->layer_count, s->layers_computed, s->layers_cached, (unsigned long long)s->bytes_hashed,
		       total);
		return;
	}
	cli_format_bytes(bytes, sizeof(bytes), total);
	fprintf(stderr, "stowage: %zu layers, %s (%zu computed, %zu from cache) -> %s\n", img->layer_count, bytes,
		s->layers_computed, s->layers_cached, c->output ? c->output : "stdout");
}

static int load_layers(struct stw_image ***out, const struct strlist *files)
{
	*out = calloc(files->count + 1, sizeof(**out));
	if (!*out)
		return cli_fail("out of memory");
	for (size_t i = 0; i < files->count; i++)
		if (stw_image_load(&(*out)[i], files->items[i]) < 0)
			return cli_fail_lib();
	return 0;
}

int build_main(int argc, char **argv, int image, const char *help)
{
	struct build_cli c = { 0 };
	struct strlist paths = { 0 }, roots = { 0 };
	struct stw_build_options o = { 0 };
	struct stw_build_stats stats = { 0 };
	struct stw_perm_rule *perms = NULL;
	struct stw_image **lower = NULL, *img = NULL;
	struct stw_graph *closure = NULL;
	char cache_buf[PATH_MAX], *json = NULL;
	int rc;

	rc = parse_args(&c, argc, argv, image, help);
	if (rc)
		goto out;
	o.store_dir = c.store_dir ? c.store_dir : "/nix/store";
	o.max_layers = (size_t)c.max_layers;
	o.jobs = c.jobs;
	o.name = c.name;
	o.tag = c.tag;
	if ((c.strategy && stw_strategy_parse(&o.strategy, c.strategy) < 0) ||
	    (c.compression && stw_compression_parse(&o.compression, c.compression) < 0)) {
		rc = cli_usage(argv[0], "%s", stw_error_last());
		goto out;
	}
	if (!c.compression)
		o.compression = STW_COMPRESSION_GZIP;
	perms = calloc(c.perm_texts.count + 1, sizeof(*perms));
	if (!perms) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (; o.perm_count < c.perm_texts.count; o.perm_count++)
		if ((rc = parse_perm(&perms[o.perm_count], c.perm_texts.items[o.perm_count], argv[0])))
			goto out;
	o.perms = perms;
	if ((rc = resolve_paths(&paths, &c.store_paths, "store path", 1, o.store_dir)) ||
	    (rc = resolve_paths(&roots, &c.roots, "root", 0, o.store_dir)))
		goto out;
	o.cache_dir = c.no_cache ? NULL : c.cache_dir ? c.cache_dir : cli_default_cache_dir(cache_buf, sizeof(cache_buf));
	if ((rc = cli_blob_cache_max(&o.blob_cache_max)))
		goto out;
	if (stw_graph_new(&closure) < 0 ||
	    (rc = collect_closure(closure, &c, &paths, &roots, o.store_dir, o.cache_dir)))
		goto out;
	if ((rc = load_layers(&lower, &c.layer_files)))
		goto out;
	o.closure = closure;
	o.roots = (const char *const *)roots.items;
	o.root_count = roots.count;
	o.lower = lower;
	o.lower_count = c.layer_files.count;
	if (!image && !o.max_layers) {
		/* a layer JSON adds one layer (plus the root's) to what it lies on */
		o.max_layers = 1 + (c.roots.count ? 1 : 0);
		for (size_t i = 0; i < o.lower_count; i++)
			o.max_layers += lower[i]->layer_count;
	}
	if (image) {
		c.config.entrypoint = (const char *const *)c.entrypoint.items;
		c.config.entrypoint_count = c.entrypoint.count;
		c.config.cmd = (const char *const *)c.cmd.items;
		c.config.cmd_count = c.cmd.count;
		c.config.env = (const char *const *)c.env.items;
		c.config.env_count = c.env.count;
		c.config.labels = (const char *const *)c.labels.items;
		c.config.label_count = c.labels.count;
		c.config.exposed = (const char *const *)c.exposed.items;
		c.config.exposed_count = c.exposed.count;
		c.config.volumes = (const char *const *)c.volumes.items;
		c.config.volume_count = c.volumes.count;
		o.config = &c.config;
	}
	if (stw_build(&img, &o, &stats) < 0 || stw_image_to_json(&json, img) < 0) {
		rc = cli_fail_lib();
		goto out;
	}
	rc = cli_write_output(c.output, json, strlen(json));
	if (!rc && c.output)
		print_summary(&c, img, &stats);
out:
	if (rc < 0) /* --help */
		rc = 0;
	free(json);
	stw_image_free(img);
	for (size_t i = 0; lower && i < c.layer_files.count; i++)
		stw_image_free(lower[i]);
	free(lower);
	for (size_t i = 0; perms && i <= c.perm_texts.count; i++)
		stw_perm_rule_release(&perms[i]);
	free(perms);
	stw_graph_free(closure);
	strlist_release(&paths);
	strlist_release(&roots);
	build_cli_release(&c);
	return rc;
}
