#include "oci_config.h"
#include "digest.h"
#include "error.h"
#include "json_text.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct arch_alias {
	const char *name;
	const char *oci;
	const char *variant;
};

/* Nix system doubles, uname -m names and OCI (GOARCH) names. */
static const struct arch_alias arch_aliases[] = {
	{ "amd64", "amd64", NULL },     { "x86_64", "amd64", NULL },
	{ "arm64", "arm64", "v8" },     { "aarch64", "arm64", "v8" },
	{ "arm", "arm", "v7" },         { "armv7l", "arm", "v7" },  { "armv7", "arm", "v7" },
	{ "armv6l", "arm", "v6" },      { "armv6", "arm", "v6" },   { "armv5tel", "arm", "v5" },
	{ "386", "386", NULL },         { "i686", "386", NULL },    { "i386", "386", NULL },
	{ "ppc64le", "ppc64le", NULL }, { "powerpc64le", "ppc64le", NULL },
	{ "ppc64", "ppc64", NULL },     { "powerpc64", "ppc64", NULL },
	{ "s390x", "s390x", NULL },     { "riscv64", "riscv64", NULL },
	{ "mips64le", "mips64le", NULL }, { "mips64el", "mips64le", NULL },
	{ "mipsle", "mipsle", NULL },   { "mipsel", "mipsle", NULL },
	{ "mips64", "mips64", NULL },   { "mips", "mips", NULL },
	{ "loong64", "loong64", NULL }, { "loongarch64", "loong64", NULL },
	{ "wasm", "wasm", NULL },       { "wasm32", "wasm", NULL },
};

int stw_arch_normalise(const char **arch, const char **variant, const char *name)
{
	char cpu[32];
	size_t len = strcspn(name, "-"); /* "aarch64-linux" -> "aarch64" */

	if (len == 0 || len >= sizeof(cpu))
		return stw_error("unknown architecture '%s'", name);
	memcpy(cpu, name, len);
	cpu[len] = 0;
	for (size_t i = 0; i < sizeof(arch_aliases) / sizeof(arch_aliases[0]); i++) {
		if (!strcmp(arch_aliases[i].name, cpu)) {
			*arch = arch_aliases[i].oci;
			*variant = arch_aliases[i].variant;
			return 0;
		}
	}
	return stw_error("unknown architecture '%s'", name);
}

static json_t *string_array(const char *const *items, size_t count)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < count; i++)
		if (json_array_append_new(a, json_string(items[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* "K=V" items into an object; later keys win (like Docker). */
static int key_values(json_t *obj, const char *const *items, size_t count, const char *what)
{
	for (size_t i = 0; i < count; i++) {
		const char *eq = strchr(items[i], '=');
		char *key;
		int rc;
		if (!eq || eq == items[i])
			return stw_error("%s '%s' is not KEY=VALUE", what, items[i]);
		key = strndup(items[i], (size_t)(eq - items[i]));
		if (!key)
			return stw_error("out of memory");
		rc = json_object_set_new(obj, key, json_string(eq + 1));
		free(key);
		if (rc < 0)
			return stw_error("%s '%s' is not valid UTF-8", what, items[i]);
	}
	return 0;
}

static int exposed_ports(json_t *obj, const char *const *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *p = items[i], *slash = strchr(p, '/');
		char key[64];
		size_t digits = slash ? (size_t)(slash - p) : strlen(p);
		const char *proto = slash ? slash + 1 : "tcp";
		long port;
		char *end;

		port = strtol(p, &end, 10);
		if (digits == 0 || end != p + digits || port < 1 || port > 65535 ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")))
			return stw_error("exposed port '%s' is not PORT[/tcp|udp|sctp]", p);
		snprintf(key, sizeof(key), "%ld/%s", port, proto);
		if (json_object_set_new(obj, key, json_object()) < 0)
			return stw_error("out of memory");
	}
	return 0;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
	if (!value || !*value)
		return 0;
	if (json_object_set_new(obj, key, json_string(value)) < 0)
		return stw_error("%s '%s' is not valid UTF-8", key, value);
	return 0;
}

static json_t *container_config(const struct stw_image_config *c)
{
	json_t *cfg = json_object(), *env = NULL, *labels = json_object(), *ports = json_object();
	json_t *volumes = json_object();

	if (!cfg || !labels || !ports || !volumes)
		goto fail;
	if (c->env_count) {
		env = string_array(c->env, c->env_count);
		if (!env || json_object_set_new(cfg, "Env", env) < 0)
			goto fail;
		for (size_t i = 0; i < c->env_count; i++)
			if (!strchr(c->env[i], '=')) {
				stw_error("environment variable '%s' is not KEY=VALUE", c->env[i]);
				goto fail;
			}
	}
	if (c->has_entrypoint &&
	    json_object_set_new(cfg, "Entrypoint", string_array(c->entrypoint, c->entrypoint_count)) < 0)
		goto fail;
	if (c->has_cmd && json_object_set_new(cfg, "Cmd", string_array(c->cmd, c->cmd_count)) < 0)
		goto fail;
	if (set_string(cfg, "User", c->user) < 0 || set_string(cfg, "WorkingDir", c->workdir) < 0)
		goto fail;
	if (key_values(labels, c->labels, c->label_count, "label") < 0 ||
	    exposed_ports(ports, c->exposed, c->exposed_count) < 0)
		goto fail;
	for (size_t i = 0; i < c->volume_count; i++)
		json_object_set_new(volumes, c->volumes[i], json_object());
	if (json_object_size(labels))
		json_object_set(cfg, "Labels", labels);
	if (json_object_size(ports))
		json_object_set(cfg, "ExposedPorts", ports);
	if (json_object_size(volumes))
		json_object_set(cfg, "Volumes", volumes);
	json_decref(labels);
	json_decref(ports);
	json_decref(volumes);
	return cfg;
fail:
	if (!strlen(stw_error_last()))
		stw_error("out of memory");
	json_decref(cfg);
	json_decref(labels);
	json_decref(ports);
	json_decref(volumes);
	return NULL;
}

/* One history entry per layer, naming what it holds. */
static json_t *history(const struct stw_image *img, const char *created)
{
	json_t *h = json_array();
	for (size_t i = 0; h && i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		char by[512];
		const char *first = l->path_count ? l->paths[0].path : "";
		if (l->path_count > 1)
			snprintf(by, sizeof(by), "stowage: %s and %zu more", first, l->path_count - 1);
		else
			snprintf(by, sizeof(by), "stowage: %s", first);
		json_array_append_new(h, json_pack("{s:s,s:s}", "created", created, "created_by", by));
	}
	return h;
}

static int valid_created(const char *s)
{
	/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm) */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	if (s[i] == '.')
		for (i++; isdigit((unsigned char)s[i]); i++)
			;
	return !strcmp(s + i, "Z") || ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6);
}

int oci_config_canonical(char **out, const char *json_text)
{
	json_error_t err;
	json_t *j = json_loads(json_text, 0, &err);
	if (!j)
		return stw_error("invalid config JSON: %s", err.text);
	*out = stw_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return *out ? 0 : stw_error("out of memory");
}

int oci_config_build(struct stw_image *img, const struct stw_image_config *c)
{
	const char *arch, *variant, *created = c->created ? c->created : STW_DEFAULT_CREATED;
	json_t *root = NULL, *diff_ids = json_array(), *cfg = NULL;
	int ret = -1;

	if (!c->architecture) {
		stw_error("no architecture given");
		goto out;
	}
	if (stw_arch_normalise(&arch, &variant, c->architecture) < 0)
		goto out;
	if (c->variant)
		variant = *c->variant ? c->variant : NULL;
	if (!valid_created(created)) {
		stw_error("creation time '%s' is not RFC 3339 (e.g. 2024-01-31T12:00:00Z)", created);
		goto out;
	}
	cfg = container_config(c);
	if (!cfg || !diff_ids)
		goto out;
	for (size_t i = 0; i < img->layer_count; i++)
		json_array_append_new(diff_ids, json_string(img->layers[i].diff_id));
	root = json_pack("{s:s,s:s,s:s,s:O,s:{s:s,s:O},s:o}", "architecture", arch, "os",
			 c->os ? c->os : "linux", "created", created, "config", cfg, "rootfs", "type",
			 "layers", "diff_ids", diff_ids, "history", history(img, created));
	if (!root) {
		stw_error("cannot build the image config");
		goto out;
	}
	if (variant)
		json_object_set_new(root, "variant", json_string(variant));
	if (set_string(root, "author", c->author) < 0)
		goto out;
	free(img->config_json);
	img->config_json = stw_json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!img->config_json) {
		stw_error("out of memory");
		goto out;
	}
	if (sha256_digest(img->config_digest, img->config_json, strlen(img->config_json)) < 0)
		goto out;
	img->has_config = 1;
	ret = 0;
out:
	json_decref(root);
	json_decref(cfg);
	json_decref(diff_ids);
	return ret;
}
