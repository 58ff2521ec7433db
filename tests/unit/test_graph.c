/* Closure graphs (include/stowage/graph.h): the three input shapes, and
 * every way an input can be wrong, each reported naming the input. */
#include "harness.h"

#include "stowage/graph.h"

#define FOO "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo-1.0"
#define BAR "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bar-2.0"
#define BAZ "/nix/store/cccccccccccccccccccccccccccccccc-baz"

static struct stw_graph *parse(const char *text)
{
	struct stw_graph *g = NULL;
	CHECK_OK(stw_graph_parse(&g, text, strlen(text), "graph.json"));
	CHECK(g);
	return g;
}

/* "path[size] -> ref ref; ..." for every path, in graph order. */
static void check_shape(const struct stw_graph *g, const char *want)
{
	char got[4096];
	size_t used = 0;

	got[0] = 0;
	for (size_t i = 0; i < stw_graph_count(g); i++) {
		used += (size_t)snprintf(got + used, sizeof(got) - used, "%s[%llu] ->",
					 stw_graph_path(g, i) + 44, (unsigned long long)stw_graph_nar_size(g, i));
		for (size_t k = 0; k < stw_graph_reference_count(g, i); k++)
			used += (size_t)snprintf(got + used, sizeof(got) - used, " %s",
						 stw_graph_path(g, stw_graph_reference(g, i, k)) + 44);
		used += (size_t)snprintf(got + used, sizeof(got) - used, "; ");
		CHECK(used < sizeof(got));
	}
	CHECK_EQ_STR(got, want);
}

/* exportReferencesGraph's JSON and `nix path-info --json` up to Nix 2.18 */
TEST(json_array)
{
	struct stw_graph *g = parse(
		"[{\"path\": \"" FOO "\", \"narSize\": 1000, \"narHash\": \"sha256:x\",\n"
		"  \"references\": [\"" BAR "\", \"" FOO "\", \"" BAZ "\"]},\n"
		" {\"path\": \"" BAR "\", \"narSize\": 200, \"references\": [\"" BAZ "\", \"" BAR "\"]},\n"
		" {\"path\": \"" BAZ "\", \"references\": []}]");
	size_t i;

	check_shape(g, "foo-1.0[1000] -> bar-2.0 baz; bar-2.0[200] -> baz; baz[0] ->; ");
	CHECK(stw_graph_find(g, BAR, &i));
	CHECK_EQ_INT(i, 1);
	CHECK(!stw_graph_find(g, "/nix/store/zzz", &i));
	stw_graph_free(g);
}

/* `nix path-info --json` from Nix 2.19: an object keyed by path */
TEST(json_object)
{
	struct stw_graph *g = parse(
		"  \n{\"" FOO "\": {\"narSize\": 1000, \"references\": [\"" FOO "\", \"" BAR "\"],"
		" \"deriver\": null, \"ultimate\": false},\n"
		" \"" BAR "\": {\"narSize\": 200, \"references\": []}}\n");

	check_shape(g, "foo-1.0[1000] -> bar-2.0; bar-2.0[200] ->; ");
	stw_graph_free(g);
}

/* The classic exportReferencesGraph text: path, deriver, count, refs. */
TEST(text)
{
	struct stw_graph *g = parse(FOO "\n"
				    "/nix/store/dddddddddddddddddddddddddddddddd-foo-1.0.drv\n"
				    "3\n" FOO "\n" BAR "\n" BAZ "\n"
				    BAR "\n"
				    "\n" /* no deriver */
				    "1\n" BAZ "\n"
				    BAZ "\n\n0\n");

	check_shape(g, "foo-1.0[0] -> bar-2.0 baz; bar-2.0[0] -> baz; baz[0] ->; ");
	stw_graph_free(g);
	/* without the final newline, and with a blank line between entries */
	g = parse(BAR "\n\n0\n\n" FOO "\n\n1\n" BAR);
	check_shape(g, "bar-2.0[0] ->; foo-1.0[0] -> bar-2.0; ");
	stw_graph_free(g);
}

static void check_rejected(const char *text, const char *message)
{
	struct stw_graph *g = (struct stw_graph *)1;
	CHECK_FAILS(stw_graph_parse(&g, text, strlen(text), "graph.json"), message);
	CHECK(g == NULL);
	CHECK(!strncmp(stw_error_last(), "cannot read closure graph 'graph.json': ", 40));
}

TEST(dangling_reference)
{
	check_rejected("[{\"path\": \"" FOO "\", \"references\": [\"" BAR "\"]}]",
		       "'" FOO "' references '" BAR "', which the graph does not list");
	check_rejected("{\"" FOO "\": {\"references\": [\"" BAR "\"]}}",
		       "'" FOO "' references '" BAR "', which the graph does not list");
	check_rejected(FOO "\n\n1\n" BAR "\n", "'" FOO "' references '" BAR "', which the graph does not list");
}

TEST(cycle)
{
	check_rejected("[{\"path\": \"" FOO "\", \"references\": [\"" BAR "\"]},"
		       " {\"path\": \"" BAR "\", \"references\": [\"" BAZ "\"]},"
		       " {\"path\": \"" BAZ "\", \"references\": [\"" FOO "\"]}]",
		       "cyclic graph: '" BAZ "' references '" FOO "', which leads back to it");
	check_rejected(FOO "\n\n1\n" BAR "\n" BAR "\n\n1\n" FOO "\n",
		       "cyclic graph: '" BAR "' references '" FOO "', which leads back to it");
}

TEST(bad_paths)
{
	check_rejected("[{\"path\": \"nix/store/x\"}]", "path 'nix/store/x' is not absolute");
	check_rejected("[{\"path\": \"/nix/store/../etc\"}]", "path '/nix/store/../etc' contains '..'");
	check_rejected("[{\"path\": \"/nix/store/x/..\"}]", "contains '..'");
	check_rejected("{\"/nix/../x\": {}}", "contains '..'");
	check_rejected("x\n\n0\n", "path 'x' is not absolute");
}

TEST(names_with_dots_are_fine)
{
	struct stw_graph *g = parse("[{\"path\": \"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-..x\"},"
				    " {\"path\": \"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x..\"}]");
	CHECK_EQ_INT(stw_graph_count(g), 2);
	stw_graph_free(g);
}

TEST(malformed_input)
{
	check_rejected("[{\"path\": ", "cannot read closure graph 'graph.json': line 1:");
	check_rejected("{\"" FOO "\": {}, \"" FOO "\": {}}", "duplicate object key");
	check_rejected("[{\"narSize\": 3}]", "entry 0 has no string 'path'");
	check_rejected("[{\"path\": \"" FOO "\"}, 7]", "entry 1 has no string 'path'");
	check_rejected("[{\"path\": \"" FOO "\", \"references\": \"" FOO "\"}]",
		       "'references' of '" FOO "' is not an array");
	check_rejected("[{\"path\": \"" FOO "\", \"references\": [1]}]", "a reference of '" FOO "' is not a string");
	check_rejected("{\"" FOO "\": null}", "'" FOO "' is not a valid store path");
	check_rejected("{\"" FOO "\": 3}", "entry for '" FOO "' is not an object");
	check_rejected(FOO "\n", "truncated entry for '" FOO "'");
	check_rejected(FOO "\n\nmany\n", "bad reference count 'many' for '" FOO "'");
	check_rejected(FOO "\n\n2\n" FOO "\n", "truncated references of '" FOO "'");
}

TEST(invalid_utf8)
{
	const char text[] = "/nix/store/\xff-x\n\n0\n";
	struct stw_graph *g = NULL;
	CHECK_FAILS(stw_graph_parse(&g, text, sizeof(text) - 1, "graph.txt"), "is not valid UTF-8");
	CHECK(strstr(stw_error_last(), "'graph.txt'"));
}

TEST(merge)
{
	struct stw_graph *a = parse("[{\"path\": \"" FOO "\", \"references\": [\"" BAR "\"]},"
				    " {\"path\": \"" BAR "\", \"narSize\": 0}]");
	struct stw_graph *b = parse("[{\"path\": \"" BAZ "\", \"narSize\": 30, \"references\": [\"" BAR "\"]},"
				    " {\"path\": \"" BAR "\", \"narSize\": 20}]");
	struct stw_graph *empty = NULL;

	CHECK_OK(stw_graph_merge(a, b));
	check_shape(a, "foo-1.0[0] -> bar-2.0; bar-2.0[20] ->; baz[30] -> bar-2.0; ");
	CHECK_OK(stw_graph_merge(a, b)); /* idempotent */
	check_shape(a, "foo-1.0[0] -> bar-2.0; bar-2.0[20] ->; baz[30] -> bar-2.0; ");
	CHECK_OK(stw_graph_new(&empty));
	CHECK_OK(stw_graph_merge(empty, a));
	check_shape(empty, "foo-1.0[0] -> bar-2.0; bar-2.0[20] ->; baz[30] -> bar-2.0; ");
	CHECK_OK(stw_graph_check_acyclic(empty));
	stw_graph_free(a);
	stw_graph_free(b);
	stw_graph_free(empty);
}

TEST(building_by_hand)
{
	struct stw_graph *g = NULL;
	size_t foo, bar, again;

	CHECK_OK(stw_graph_new(&g));
	CHECK_OK(stw_graph_add(g, FOO, 0, &foo));
	CHECK_OK(stw_graph_add(g, BAR, 7, &bar));
	CHECK_OK(stw_graph_add(g, FOO, 5, &again)); /* a known path: its size filled in */
	CHECK_EQ_INT(again, foo);
	CHECK_EQ_INT(stw_graph_nar_size(g, foo), 5);
	CHECK_OK(stw_graph_add(g, FOO, 9, NULL)); /* a known size is kept */
	CHECK_EQ_INT(stw_graph_nar_size(g, foo), 5);
	stw_graph_set_nar_size(g, foo, 9);
	CHECK_EQ_INT(stw_graph_nar_size(g, foo), 9);
	CHECK_OK(stw_graph_add_reference(g, foo, bar));
	CHECK_OK(stw_graph_add_reference(g, foo, bar)); /* once only */
	CHECK_OK(stw_graph_add_reference(g, foo, foo)); /* dropped */
	CHECK_EQ_INT(stw_graph_reference_count(g, foo), 1);
	CHECK_OK(stw_graph_check_acyclic(g));
	CHECK_OK(stw_graph_add_reference(g, bar, foo));
	CHECK_FAILS(stw_graph_check_acyclic(g), "cyclic graph");
	CHECK_FAILS(stw_graph_add(g, "relative", 0, NULL), "path 'relative' is not absolute");
	CHECK_EQ_INT(stw_graph_count(g), 2);
	stw_graph_free(g);
	stw_graph_free(NULL);
}

/* A long chain (a deep DAG) is checked without deep recursion. */
TEST(deep_chain)
{
	struct stw_graph *g = NULL;
	char path[64];
	size_t prev = 0, cur;

	CHECK_OK(stw_graph_new(&g));
	for (size_t i = 0; i < 200000; i++) {
		snprintf(path, sizeof(path), "/nix/store/%032zu-n", i);
		CHECK_OK(stw_graph_add(g, path, i, &cur));
		if (i)
			CHECK_OK(stw_graph_add_reference(g, prev, cur));
		prev = cur;
	}
	CHECK_OK(stw_graph_check_acyclic(g));
	CHECK_OK(stw_graph_add_reference(g, prev, 0));
	CHECK_FAILS(stw_graph_check_acyclic(g), "cyclic graph");
	stw_graph_free(g);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(json_array), ENTRY(json_object), ENTRY(text), ENTRY(dangling_reference),
			       ENTRY(cycle), ENTRY(bad_paths), ENTRY(names_with_dots_are_fine),
			       ENTRY(malformed_input), ENTRY(invalid_utf8), ENTRY(merge), ENTRY(building_by_hand),
			       ENTRY(deep_chain)));
}
