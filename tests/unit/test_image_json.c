/* Image and layer JSON (include/stowage/image.h): canonical bytes that
 * survive a round trip, and every inconsistency rejected with a message
 * naming the file and what is wrong. */
#include "harness.h"

#include "oci_config.h"
#include "stowage/image.h"

#include <jansson.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D4 "sha256:4444444444444444444444444444444444444444444444444444444444444444"

static char *copy_string(const char *s)
{
	char *d = strdup(s);
	CHECK(d);
	return d;
}

/* Two layers: a store path in gzip, a copy-to-root tree with permission
 * rules in zstd; with an OCI config when with_config. */
static struct stw_image *sample(int with_config)
{
	static const char *const entrypoint[] = { "/nix/store/aaa-fd/bin/fd" };
	static const char *const env[] = { "PATH=/bin", "LANG=C.UTF-8" };
	static const char *const labels[] = { "org.opencontainers.image.description=fd \xe2\x80\x94 a find, \"quoted\" / \xc3\xbcnicode" };
	struct stw_image_config cfg = { .architecture = "aarch64", .entrypoint = entrypoint,
					.entrypoint_count = 1, .has_entrypoint = 1, .env = env, .env_count = 2,
					.labels = labels, .label_count = 1, .user = "1000:1000",
					.workdir = "/app" };
	struct stw_image *img = calloc(1, sizeof(*img));
	struct stw_layer *l;

	CHECK(img);
	img->layers = calloc(2, sizeof(*img->layers));
	CHECK(img->layers);
	img->layer_count = 2;
	l = &img->layers[0];
	memcpy(l->digest, D1, sizeof(D1));
	memcpy(l->diff_id, D2, sizeof(D2));
	l->size = 123;
	l->tar_size = 10240;
	l->compression = STW_COMPRESSION_GZIP;
	l->paths = calloc(2, sizeof(*l->paths));
	CHECK(l->paths);
	l->path_count = 2;
	l->paths[0].path = copy_string("/nix/store/aaa-fd");
	l->paths[1].path = copy_string("/nix/store/bbb-glibc-2.39");
	l = &img->layers[1];
	memcpy(l->digest, D3, sizeof(D3));
	memcpy(l->diff_id, D4, sizeof(D4));
	l->size = 9000000000ULL; /* > 32 bits */
	l->tar_size = 9100000000ULL;
	l->compression = STW_COMPRESSION_ZSTD;
	l->paths = calloc(1, sizeof(*l->paths));
	CHECK(l->paths);
	l->path_count = 1;
	l->paths[0].path = copy_string("/nix/store/ccc-root");
	l->paths[0].rewrite_regex = copy_string("^/nix/store/ccc-root");
	l->paths[0].rewrite_repl = copy_string("");
	l->perms = calloc(2, sizeof(*l->perms));
	CHECK(l->perms);
	l->perm_count = 2;
	l->perms[0] = (struct stw_perm_rule){ copy_string("^/tmp$"), 01777, -1, -1 };
	l->perms[1] = (struct stw_perm_rule){ copy_string("^/home/app(/.*)?$"), -1, 1000, 100 };
	if (with_config) {
		img->name = copy_string("registry.local/fd");
		img->tag = copy_string("1.0");
		CHECK_OK(oci_config_build(img, &cfg));
	}
	return img;
}

static char *to_json(const struct stw_image *img)
{
	char *json = NULL;
	CHECK_OK(stw_image_to_json(&json, img));
	CHECK(json);
	return json;
}

static void check_round_trip(int with_config)
{
	struct stw_image *img = sample(with_config), *back = NULL;
	char *first = to_json(img), *second;

	CHECK_OK(stw_image_parse(&back, first, strlen(first), "image.json"));
	second = to_json(back);
	CHECK_EQ_STR(second, first);
	CHECK_EQ_INT(back->has_config, with_config);
	CHECK_EQ_INT(back->layer_count, 2);
	CHECK_EQ_STR(back->layers[0].digest, D1);
	CHECK_EQ_STR(back->layers[0].diff_id, D2);
	CHECK_EQ_INT(back->layers[0].size, 123);
	CHECK_EQ_INT(back->layers[0].tar_size, 10240);
	CHECK_EQ_INT(back->layers[0].compression, STW_COMPRESSION_GZIP);
	CHECK_EQ_INT(back->layers[0].path_count, 2);
	CHECK_EQ_STR(back->layers[0].paths[1].path, "/nix/store/bbb-glibc-2.39");
	CHECK(back->layers[0].paths[1].rewrite_regex == NULL);
	CHECK_EQ_INT(back->layers[1].size, 9000000000ULL);
	CHECK_EQ_INT(back->layers[1].compression, STW_COMPRESSION_ZSTD);
	CHECK_EQ_STR(back->layers[1].paths[0].rewrite_regex, "^/nix/store/ccc-root");
	CHECK_EQ_STR(back->layers[1].paths[0].rewrite_repl, "");
	CHECK_EQ_INT(back->layers[1].perm_count, 2);
	CHECK_EQ_INT(back->layers[1].perms[0].mode, 01777);
	CHECK_EQ_INT(back->layers[1].perms[0].uid, -1);
	CHECK_EQ_INT(back->layers[1].perms[1].mode, -1);
	CHECK_EQ_INT(back->layers[1].perms[1].uid, 1000);
	CHECK_EQ_INT(back->layers[1].perms[1].gid, 100);
	if (with_config) {
		CHECK_EQ_STR(back->config_json, img->config_json);
		CHECK_EQ_STR(back->config_digest, img->config_digest);
		CHECK_EQ_STR(back->name, "registry.local/fd");
		CHECK_EQ_STR(back->tag, "1.0");
	} else {
		CHECK(back->config_json == NULL && back->name == NULL && back->tag == NULL);
	}
	free(first);
	free(second);
	stw_image_free(img);
	stw_image_free(back);
}

TEST(image_round_trip)
{
	check_round_trip(1);
}

TEST(layer_json_round_trip)
{
	check_round_trip(0);
}

/* Sorted keys, two-space indent, a final newline; the config digest is
 * the sha256 of the compact, sorted config. */
TEST(canonical_form)
{
	struct stw_image *img = sample(1), *layers = sample(0);
	char *json = to_json(img), *layers_json = to_json(layers);
	json_t *root;
	json_error_t err;
	char *compact;

	CHECK(!strncmp(json, "{\n  \"config\": {\n    \"architecture\": \"arm64\",\n", 45));
	CHECK(strstr(json, "\n  \"stowage\": \"image\",\n  \"tag\": \"1.0\",\n  \"version\": 1\n}\n"));
	CHECK_EQ_INT(json[strlen(json) - 1], '\n');
	CHECK(strstr(json, "\"media_type\": \"application/vnd.oci.image.layer.v1.tar+gzip\""));
	CHECK(strstr(json, "\"media_type\": \"application/vnd.oci.image.layer.v1.tar+zstd\""));
	CHECK(strstr(json, "\"mode\": \"1777\""));
	CHECK(strstr(json, "\"variant\": \"v8\""));
	CHECK(strstr(layers_json, "\"stowage\": \"layers\""));
	CHECK(!strstr(layers_json, "config"));
	root = json_loads(json, 0, &err);
	CHECK(root);
	compact = json_dumps(json_object_get(root, "config"), JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_EQ_STR(compact, img->config_json);
	CHECK(strstr(compact, "\"rootfs\":{\"diff_ids\":[\"" D2 "\",\"" D4 "\"],\"type\":\"layers\"}"));
	free(compact);
	json_decref(root);
	free(json);
	free(layers_json);
	stw_image_free(img);
	stw_image_free(layers);
}

/* Re-serialises the sample image after `edit` changed its JSON tree and
 * checks that parsing it fails with message. */
static void check_rejected(void (*edit)(json_t *root), const char *message)
{
	struct stw_image *img = sample(1), *back = (struct stw_image *)1;
	char *json = to_json(img), *edited;
	json_error_t err;
	json_t *root = json_loads(json, 0, &err);

	CHECK(root);
	edit(root);
	edited = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	CHECK(edited);
	CHECK_FAILS(stw_image_parse(&back, edited, strlen(edited), "image.json"), message);
	CHECK(!strncmp(stw_error_last(), "cannot read image JSON 'image.json': ", 37));
	CHECK(back == NULL);
	free(edited);
	json_decref(root);
	free(json);
	stw_image_free(img);
}

static json_t *layer0(json_t *root)
{
	return json_array_get(json_object_get(root, "layers"), 0);
}

static void wrong_kind(json_t *r) { json_object_set_new(r, "stowage", json_string("nix2container")); }
static void no_kind(json_t *r) { json_object_del(r, "stowage"); }
static void next_version(json_t *r) { json_object_set_new(r, "version", json_integer(2)); }
static void string_version(json_t *r) { json_object_set_new(r, "version", json_string("1")); }
static void bad_digest(json_t *r) { json_object_set_new(layer0(r), "digest", json_string("sha256:abc")); }
static void upper_digest(json_t *r)
{
	json_object_set_new(layer0(r), "diff_id",
			    json_string("sha256:2222222222222222222222222222222222222222222222222222222222222A22"));
}
static void md5_digest(json_t *r) { json_object_set_new(layer0(r), "digest", json_string("md5:1234")); }
static void no_paths(json_t *r) { json_object_del(layer0(r), "paths"); }
static void relative_path(json_t *r)
{
	json_object_set_new(json_array_get(json_object_get(layer0(r), "paths"), 0), "path", json_string("nix/x"));
}
static void edited_config(json_t *r)
{
	json_object_set_new(json_object_get(r, "config"), "architecture", json_string("amd64"));
}
static void no_config_digest(json_t *r) { json_object_del(r, "config_digest"); }
static void other_diff_id(json_t *r) { json_object_set_new(layer0(r), "diff_id", json_string(D1)); }
static void dropped_layer(json_t *r) { json_array_remove(json_object_get(r, "layers"), 1); }
static void negative_size(json_t *r) { json_object_set_new(layer0(r), "size", json_integer(-1)); }
static void bad_compression(json_t *r) { json_object_set_new(layer0(r), "compression", json_string("xz")); }
static void bad_mode(json_t *r)
{
	json_t *perms = json_object_get(json_array_get(json_object_get(r, "layers"), 1), "perms");
	json_object_set_new(json_array_get(perms, 0), "mode", json_string("0999"));
}
static const char *next_mode;
static void odd_mode(json_t *r)
{
	json_t *perms = json_object_get(json_array_get(json_object_get(r, "layers"), 1), "perms");
	json_object_set_new(json_array_get(perms, 0), "mode", json_string(next_mode));
}
static void numeric_mode(json_t *r)
{
	json_t *perms = json_object_get(json_array_get(json_object_get(r, "layers"), 1), "perms");
	json_object_set_new(json_array_get(perms, 0), "mode", json_integer(493));
}
static void layers_not_array(json_t *r) { json_object_set_new(r, "layers", json_object()); }

/* The hand-written writer's bytes are jansson's JSON_INDENT(2) |
 * JSON_SORT_KEYS dump of the same document: every control character,
 * quotes, backslashes, UTF-8 and JSON's own marks inside strings, empty
 * and nested values in the config, perms with and without each field. */
static void check_matches_jansson(const struct stw_image *img)
{
	char *json = to_json(img), *again;
	json_error_t err;
	json_t *root = json_loads(json, 0, &err);
	size_t len;

	CHECK(root);
	again = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	CHECK(again);
	len = strlen(again);
	CHECK_EQ_INT(strlen(json), len + 1);
	CHECK(!strncmp(json, again, len));
	CHECK_EQ_INT(json[len], '\n');
	free(again);
	free(json);
	json_decref(root);
}

TEST(writer_matches_jansson)
{
	struct stw_image *img = sample(1), *layers = sample(0);
	char awkward[64], *config;
	json_t *cfg;
	json_error_t err;
	struct stw_perm_rule *r = &img->layers[1].perms[0];

	for (int c = 1; c < 32; c++)
		awkward[c - 1] = (char)c;
	snprintf(awkward + 31, sizeof(awkward) - 31, "\"\\/:,{}[] \xc3\xbc\x7f");
	free(img->name);
	img->name = copy_string(awkward);
	free(img->layers[0].paths[1].path);
	img->layers[0].paths[1].path = copy_string(awkward);
	*r = (struct stw_perm_rule){ r->regex, -1, 7, -1 }; /* uid only */
	check_matches_jansson(img);
	r->mode = 0640; /* mode and uid */
	check_matches_jansson(img);
	r->gid = 0; /* all three */
	r->uid = -1;
	check_matches_jansson(img);
	cfg = json_loads("{\"a\":{},\"b\":[],\"c\":[1,-2.5,true,false,null,{\"x\":[[]]}],"
			 "\"d\":\"q\\\"u:o,t{e}[s]\",\"e\":1e300}", 0, &err);
	CHECK(cfg);
	config = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(config);
	free(img->config_json);
	img->config_json = config;
	check_matches_jansson(img);
	check_matches_jansson(layers);
	json_decref(cfg);
	stw_image_free(img);
	stw_image_free(layers);
}

TEST(rejections)
{
	check_rejected(wrong_kind, "not a stowage image or layer JSON");
	check_rejected(no_kind, "not a stowage image or layer JSON");
	check_rejected(next_version, "unsupported format version (this stowage reads version 1)");
	check_rejected(string_version, "unsupported format version");
	check_rejected(bad_digest, "layer 0: 'digest' must be a sha256 digest");
	check_rejected(upper_digest, "layer 0: 'diff_id' must be a sha256 digest");
	check_rejected(md5_digest, "layer 0: 'digest' must be a sha256 digest");
	check_rejected(no_paths, "layer 0: 'paths' must be an array");
	check_rejected(relative_path, "layer 0: path 'nix/x' is not absolute");
	check_rejected(edited_config, "config does not match config_digest");
	check_rejected(no_config_digest, "image: 'config_digest' must be a sha256 digest");
	check_rejected(other_diff_id, "config rootfs.diff_ids[0] does not match layer 0");
	check_rejected(dropped_layer, "config rootfs.diff_ids does not list the 1 layers");
	check_rejected(negative_size, "layer 0: 'size' must be a non-negative integer");
	check_rejected(bad_compression, "layer 0: 'compression' must be none, gzip or zstd");
	check_rejected(bad_mode, "layer 1: permission mode must be an octal string");
	check_rejected(layers_not_array, "'layers' must be an array");
	check_rejected(numeric_mode, "layer 1: permission mode must be an octal string");
	/* only octal digits: not an empty mode (it read as 0000), no sign or
	 * leading blanks that strtol would skip */
	static const char *const odd_modes[] = { "", " 755", "+755", "-0", "0x1ff", "755 " };
	for (size_t i = 0; i < sizeof(odd_modes) / sizeof(odd_modes[0]); i++) {
		next_mode = odd_modes[i];
		check_rejected(odd_mode, "layer 1: permission mode must be an octal string");
	}
}

TEST(not_json)
{
	struct stw_image *img = NULL;
	CHECK_FAILS(stw_image_parse(&img, "{\"stowage\": ", 12, "broken.json"),
		    "cannot read image JSON 'broken.json': line 1:");
	CHECK_FAILS(stw_image_parse(&img, "[]", 2, "array.json"), "not a stowage image or layer JSON");
	CHECK_FAILS(stw_image_parse(&img, "{\"stowage\": \"layers\", \"stowage\": \"layers\"}", 42, "dup.json"),
		    "duplicate");
	CHECK(img == NULL);
}

TEST(load_from_file)
{
	struct stw_image *img = sample(1), *back = NULL;
	char *json = to_json(img), *again;
	char path[4400];

	snprintf(path, sizeof(path), "%s/image.json", scratch_dir());
	make_file(path, json, strlen(json), 0644);
	CHECK_OK(stw_image_load(&back, path));
	again = to_json(back);
	CHECK_EQ_STR(again, json);
	free(again);
	stw_image_free(back);
	snprintf(path, sizeof(path), "%s/missing.json", scratch_dir());
	CHECK_FAILS(stw_image_load(&back, path), "No such file or directory");
	CHECK(strstr(stw_error_last(), "missing.json"));
	free(json);
	stw_image_free(img);
}

TEST(compression_names)
{
	enum stw_compression c;
	static const char *const names[] = { "none", "gzip", "zstd" };

	for (int i = 0; i < 3; i++) {
		CHECK_OK(stw_compression_parse(&c, names[i]));
		CHECK_EQ_INT(c, i);
		CHECK_EQ_STR(stw_compression_name(c), names[i]);
	}
	CHECK_EQ_STR(stw_layer_media_type(STW_COMPRESSION_NONE), "application/vnd.oci.image.layer.v1.tar");
	CHECK_FAILS(stw_compression_parse(&c, "bzip2"), "unknown compression 'bzip2'");
}

int main(void)
{
	return run_tests(TESTS(ENTRY(image_round_trip), ENTRY(layer_json_round_trip), ENTRY(canonical_form), ENTRY(writer_matches_jansson),
			       ENTRY(rejections), ENTRY(not_json), ENTRY(load_from_file), ENTRY(compression_names)));
}
