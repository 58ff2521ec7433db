/* Layering (lib/layering.h): nixpkgs' popularity contest, its name
 * tie-break, and both planning strategies, including a property test of
 * the size strategy over random DAGs. */
#include "harness.h"

#include "layering.h"
#include "stowage/graph.h"

static struct stw_graph *graph(const char *json)
{
	struct stw_graph *g = NULL;
	CHECK_OK(stw_graph_parse(&g, json, strlen(json), "graph"));
	return g;
}

/* "name name; name; ..." for a plan, names without "/nix/store/". */
static void check_plan(const struct layer_plan *p, const struct stw_graph *g, const char *want)
{
	char got[4096];
	size_t used = 0;

	got[0] = 0;
	for (size_t i = 0; i < p->count; i++)
		for (size_t k = 0; k < p->group_len[i]; k++) {
			used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s",
						 stw_graph_path(g, p->groups[i][k]) + 11,
						 k + 1 < p->group_len[i] ? " " : "; ");
			CHECK(used < sizeof(got));
		}
	CHECK_EQ_STR(got, want);
}

static void check_order(const struct stw_graph *g, const char *want)
{
	size_t order[64];
	char got[4096];
	size_t used = 0;

	CHECK(stw_graph_count(g) <= 64);
	CHECK_OK(popularity_order(order, g));
	got[0] = 0;
	for (size_t i = 0; i < stw_graph_count(g); i++)
		used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", i ? " " : "",
					 stw_graph_path(g, order[i]) + 11);
	CHECK_EQ_STR(got, want);
}

/* nixpkgs' closure-graph.py doctest: foo -> {bar, baz}, bar -> baz,
 * baz -> tux scores foo 1, bar 2, baz 4, tux 6. */
#define NIXPKGS_EXAMPLE \
	"[{\"path\": \"/nix/store/foo\", \"references\": [\"/nix/store/bar\", \"/nix/store/baz\"]}," \
	" {\"path\": \"/nix/store/bar\", \"references\": [\"/nix/store/baz\"]}," \
	" {\"path\": \"/nix/store/baz\", \"references\": [\"/nix/store/tux\"]}," \
	" {\"path\": \"/nix/store/tux\", \"references\": []}]"

TEST(nixpkgs_contest)
{
	struct stw_graph *g = graph(NIXPKGS_EXAMPLE);
	check_order(g, "tux baz bar foo");
	stw_graph_free(g);
}

/* Two roots: scores add up over both trees. app -> {libc, ssl},
 * ssl -> libc, bash -> libc: app's tree scores libc 1 + 1 + 2 = 4 and
 * bash's 2, so libc 6, ssl 2, app 1, bash 1 (app before bash by name). */
TEST(scores_add_up_over_roots)
{
	struct stw_graph *g = graph(
		"[{\"path\": \"/nix/store/a-app\", \"references\": [\"/nix/store/c-libc\", \"/nix/store/d-ssl\"]},"
		" {\"path\": \"/nix/store/b-bash\", \"references\": [\"/nix/store/c-libc\"]},"
		" {\"path\": \"/nix/store/d-ssl\", \"references\": [\"/nix/store/c-libc\"]},"
		" {\"path\": \"/nix/store/c-libc\", \"references\": []}]");
	check_order(g, "c-libc d-ssl a-app b-bash");
	stw_graph_free(g);
}

/* Ties are broken by name with the hash moved to the end, so the order
 * does not change when hashes do: "zzz-abc" before "aaa-zlib". */
TEST(tie_break_by_name)
{
	struct stw_graph *g = graph("[{\"path\": \"/nix/store/aaa-zlib\"}, {\"path\": \"/nix/store/zzz-abc\"},"
				    " {\"path\": \"/nix/store/mmm-abc\"}, {\"path\": \"/nix/store/nodash\"}]");
	/* keys: "zlib-/nix/store/aaa", "abc-/nix/store/zzz", "abc-/nix/store/mmm",
	 * and "/nix/store/nodash" as it is (no '-' to move) */
	check_order(g, "nodash mmm-abc zzz-abc aaa-zlib");
	stw_graph_free(g);
}

static struct stw_graph *nixpkgs_plus_one(void)
{
	return graph("[{\"path\": \"/nix/store/foo\", \"references\": [\"/nix/store/bar\", \"/nix/store/baz\"]},"
		     " {\"path\": \"/nix/store/bar\", \"references\": [\"/nix/store/baz\"]},"
		     " {\"path\": \"/nix/store/baz\", \"references\": [\"/nix/store/tux\"]},"
		     " {\"path\": \"/nix/store/tux\", \"references\": []},"
		     " {\"path\": \"/nix/store/qux\", \"references\": []}]");
}

TEST(popularity_plan)
{
	struct stw_graph *g = nixpkgs_plus_one();
	unsigned char include[5] = { 1, 0, 1, 1, 1 };
	struct layer_plan p;

	/* 5 paths, 3 layers: the two most popular alone, the rest shared */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_POPULARITY, 3));
	CHECK_EQ_INT(p.count, 3);
	check_plan(&p, g, "tux; baz; bar foo qux; ");
	layer_plan_release(&p);
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_POPULARITY, 5));
	check_plan(&p, g, "tux; baz; bar; foo; qux; ");
	layer_plan_release(&p);
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_POPULARITY, 100));
	check_plan(&p, g, "tux; baz; bar; foo; qux; ");
	layer_plan_release(&p);
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_POPULARITY, 1));
	check_plan(&p, g, "tux baz bar foo qux; ");
	layer_plan_release(&p);
	/* bar excluded (in a lower layer): still scored, not placed */
	CHECK_OK(layer_plan_make(&p, g, include, STW_STRATEGY_POPULARITY, 2));
	check_plan(&p, g, "tux; baz foo qux; ");
	layer_plan_release(&p);
	CHECK_FAILS(layer_plan_make(&p, g, NULL, STW_STRATEGY_POPULARITY, 0), "no layer left for 5 store paths");
	CHECK_EQ_INT(p.count, 0);
	memset(include, 0, sizeof(include));
	CHECK_OK(layer_plan_make(&p, g, include, STW_STRATEGY_SIZE, 0)); /* nothing to place */
	CHECK_EQ_INT(p.count, 0);
	layer_plan_release(&p);
	stw_graph_free(g);
}

static void set_sizes(struct stw_graph *g, const char *const *names, const uint64_t *sizes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t index;
		char path[64];
		snprintf(path, sizeof(path), "/nix/store/%s", names[i]);
		CHECK(stw_graph_find(g, path, &index));
		stw_graph_set_nar_size(g, index, sizes[i]);
	}
}

TEST(size_plan)
{
	struct stw_graph *g = nixpkgs_plus_one();
	static const char *const names[] = { "foo", "bar", "baz", "tux", "qux" };
	static const uint64_t sizes[] = { 100, 30, 500, 10, 20 };
	struct layer_plan p;

	set_sizes(g, names, sizes, 5);
	/* popularity: tux baz bar foo qux; roots foo and qux. With room for
	 * everything, one layer each, in popularity order. */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 100));
	check_plan(&p, g, "tux; baz; bar; foo; qux; ");
	layer_plan_release(&p);
	/* With 4: the roots and the largest other path (baz) alone; tux and
	 * bar (40 bytes) share a layer, bounded by baz, the smallest layer
	 * chosen for its size. Roots are alone for being roots and do not
	 * bound the groups: qux (20) is smaller than that group. */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 4));
	check_plan(&p, g, "tux bar; baz; foo; qux; ");
	layer_plan_release(&p);
	/* With 3: only the roots alone; the root-size bound (20) would need
	 * three groups, so the rest becomes one group. */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 3));
	check_plan(&p, g, "tux baz bar; foo; qux; ");
	layer_plan_release(&p);
	/* With 2: the larger root alone, everything else together. */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 2));
	check_plan(&p, g, "tux baz bar qux; foo; ");
	layer_plan_release(&p);
	stw_graph_free(g);
}

/* ---- property test: random DAGs, fixed seed ---- */

static uint64_t rng_state = 0x5eed5eed5eedULL;

static uint64_t rng(void)
{
	/* xorshift64*: the same sequence on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* A random DAG of n paths (references only towards later paths), sizes
 * from size_of(i), a random subset included when partial. */
static struct stw_graph *random_dag(size_t n, unsigned char *include, int partial,
				    uint64_t (*size_of)(size_t i, size_t n))
{
	struct stw_graph *g = NULL;

	CHECK_OK(stw_graph_new(&g));
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/nix/store/%016llx-p%zu", (unsigned long long)rng(), i);
		CHECK_OK(stw_graph_add(g, path, size_of(i, n), NULL));
		include[i] = partial ? rng() % 3 != 0 : 1;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (rng() % 5 == 0)
				CHECK_OK(stw_graph_add_reference(g, i, j));
	CHECK_OK(stw_graph_check_acyclic(g));
	return g;
}

/* Sizes from a few bytes to ~100 MB, one in ten unknown (0). */
static uint64_t realistic_size(size_t i, size_t n)
{
	(void)i, (void)n;
	return rng() % 10 == 0 ? 0 : 1 + rng() % (1ULL << (rng() % 27));
}

/* Distinct powers of two, shuffled: any set of paths weighs less than a
 * path larger than all of them, which makes the plan's standalone layers
 * recognisable from outside (see below). */
static uint64_t shuffled_power[64];

static uint64_t power_size(size_t i, size_t n)
{
	if (i == 0) {
		for (size_t k = 0; k < n; k++)
			shuffled_power[k] = 1ULL << k;
		for (size_t k = n - 1; k > 0; k--) {
			size_t j = rng() % (k + 1);
			uint64_t t = shuffled_power[k];
			shuffled_power[k] = shuffled_power[j];
			shuffled_power[j] = t;
		}
	}
	return shuffled_power[i];
}

/* The size strategy's promises, whatever the graph: at most max layers,
 * every included path exactly once, closure roots and aggregators alone
 * whenever there is room for them and one more layer. With power-of-two sizes and room for
 * a path alone for its size, the plan is the roots, the largest other
 * paths alone, and at most one group, no larger than any of those. */
static void check_size_plan(const struct stw_graph *g, const unsigned char *include, size_t max,
			    int powers)
{
	size_t n = stw_graph_count(g), included = 0, roots = 0, multi = 0, refs[64] = { 0 };
	unsigned char seen[64] = { 0 }, referenced[64] = { 0 }, first[64] = { 0 };
	uint64_t largest_group = 0, smallest_alone = UINT64_MAX;
	struct layer_plan p;

	for (size_t v = 0; v < n; v++)
		for (size_t k = 0; include[v] && k < stw_graph_reference_count(g, v); k++) {
			size_t w = stw_graph_reference(g, v, k);
			referenced[w] = 1;
			refs[v] += include[w];
		}
	for (size_t v = 0; v < n; v++) { /* closure roots and aggregators go first */
		first[v] = !referenced[v] || (refs[v] >= LAYER_AGGREGATOR_REFS &&
					       stw_graph_nar_size(g, v) < LAYER_AGGREGATOR_SIZE);
		included += include[v];
		roots += include[v] && first[v];
	}
	CHECK_OK(layer_plan_make(&p, g, include, STW_STRATEGY_SIZE, max));
	CHECK(p.count <= max);
	CHECK(p.count > 0 || included == 0);
	for (size_t i = 0; i < p.count; i++) {
		uint64_t total = 0;
		CHECK(p.group_len[i] > 0);
		for (size_t k = 0; k < p.group_len[i]; k++) {
			size_t v = p.groups[i][k];
			CHECK(v < n && include[v]);
			CHECK_EQ_INT(seen[v], 0);
			seen[v] = 1;
			total += stw_graph_nar_size(g, v);
			if (first[v] && roots < max)
				CHECK_EQ_INT(p.group_len[i], 1);
		}
		if (p.group_len[i] > 1) {
			multi++;
			largest_group = total > largest_group ? total : largest_group;
		} else if (!first[p.groups[i][0]]) {
			smallest_alone = total < smallest_alone ? total : smallest_alone;
		}
	}
	for (size_t v = 0; v < n; v++)
		CHECK_EQ_INT(seen[v], include[v]);
	if (powers && roots + 2 <= max && included > max) {
		CHECK_EQ_INT(p.count, max);
		CHECK(multi <= 1);
		CHECK(largest_group <= smallest_alone);
	}
	layer_plan_release(&p);
}

TEST(size_plan_properties)
{
	for (int trial = 0; trial < 600; trial++) {
		int powers = trial % 2;
		size_t n = 1 + rng() % 40, max = 1 + rng() % 12;
		unsigned char include[64];
		struct stw_graph *g = random_dag(n, include, trial % 3 == 2, powers ? power_size : realistic_size);
		check_size_plan(g, include, max, powers);
		stw_graph_free(g);
	}
}

/* Small closure roots (a wrapper script, or a size nobody knew) once
 * capped the groups so low that every root was given up in turn and the
 * whole closure ended in one catch-all layer. */
TEST(small_roots_keep_their_layers)
{
	struct stw_graph *g = NULL;
	struct layer_plan p;
	size_t a, b, dep;
	char path[64];

	CHECK_OK(stw_graph_new(&g));
	CHECK_OK(stw_graph_add(g, "/nix/store/a-app", 1, &a));
	CHECK_OK(stw_graph_add(g, "/nix/store/b-tool", 0, &b));
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/nix/store/d%02d-lib", i);
		CHECK_OK(stw_graph_add(g, path, 1000 + (uint64_t)i, &dep));
		CHECK_OK(stw_graph_add_reference(g, i % 2 ? a : b, dep));
	}
	/* The roots stay alone and the libraries share the two layers left,
	 * split as evenly as their order allows: no catch-all layer. */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 4));
	CHECK_EQ_INT(p.count, 4);
	check_plan(&p, g, "d00-lib d01-lib d02-lib d03-lib d04-lib d05-lib d06-lib d07-lib d08-lib d09-lib; "
			  "d10-lib d11-lib d12-lib d13-lib d14-lib d15-lib d16-lib d17-lib d18-lib d19-lib; "
			  "a-app; b-tool; ");
	layer_plan_release(&p);
	stw_graph_free(g);
}

/* top -> env -> apps d00..d<apps-1> (100000 bytes each); top -> a big
 * tool too when with_tool. */
static struct stw_graph *env_graph(int apps, int with_tool, size_t *top, size_t *env)
{
	struct stw_graph *g = NULL;
	size_t tool, dep;
	char path[64];

	CHECK_OK(stw_graph_new(&g));
	CHECK_OK(stw_graph_add(g, "/nix/store/t-top", 10, top));
	CHECK_OK(stw_graph_add(g, "/nix/store/e-env", 20000, env));
	if (with_tool)
		CHECK_OK(stw_graph_add(g, "/nix/store/u-tool", 300000, &tool));
	CHECK_OK(stw_graph_add_reference(g, *top, *env));
	if (with_tool)
		CHECK_OK(stw_graph_add_reference(g, *top, tool));
	for (int i = 0; i < apps; i++) {
		snprintf(path, sizeof(path), "/nix/store/d%02d-app", i);
		CHECK_OK(stw_graph_add(g, path, 100000, &dep));
		CHECK_OK(stw_graph_add_reference(g, *env, dep));
	}
	return g;
}

/* An aggregator (a buildEnv tree: small, referring to many paths) changes
 * whenever one of them does; in a group it would take the group along,
 * alone it re-uploads its own few bytes. */
TEST(aggregators_keep_their_layers)
{
	struct layer_plan p;
	size_t top, env;
	struct stw_graph *g = env_graph(LAYER_AGGREGATOR_REFS, 1, &top, &env);

	/* 4 layers: the top and the env alone, the apps and the tool (one of
	 * the largest, but no larger than the groups need) in two groups */
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 4));
	CHECK_EQ_INT(p.count, 4);
	for (size_t i = 0; i < p.count; i++)
		for (size_t k = 0; k < p.group_len[i]; k++)
			if (p.groups[i][k] == env || p.groups[i][k] == top)
				CHECK_EQ_INT(p.group_len[i], 1);
	layer_plan_release(&p);
	/* one reference fewer: an ordinary path, packed with the others */
	stw_graph_free(g);
	g = env_graph(LAYER_AGGREGATOR_REFS - 1, 0, &top, &env);
	CHECK_OK(layer_plan_make(&p, g, NULL, STW_STRATEGY_SIZE, 3));
	CHECK_EQ_INT(p.count, 3);
	for (size_t i = 0; i < p.count; i++)
		for (size_t k = 0; k < p.group_len[i]; k++)
			if (p.groups[i][k] == env)
				CHECK(p.group_len[i] > 1);
	layer_plan_release(&p);
	stw_graph_free(g);
}

/* Both strategies are pure functions of the graph: the same closure
 * listed in another order gives the same layers. */
TEST(plans_do_not_depend_on_input_order)
{
	struct stw_graph *a = graph(NIXPKGS_EXAMPLE);
	struct stw_graph *b = graph(
		"[{\"path\": \"/nix/store/tux\", \"references\": []},"
		" {\"path\": \"/nix/store/baz\", \"references\": [\"/nix/store/tux\"]},"
		" {\"path\": \"/nix/store/foo\", \"references\": [\"/nix/store/baz\", \"/nix/store/bar\"]},"
		" {\"path\": \"/nix/store/bar\", \"references\": [\"/nix/store/baz\"]}]");
	struct layer_plan p;

	for (int s = 0; s < 2; s++) {
		enum stw_strategy strategy = s ? STW_STRATEGY_SIZE : STW_STRATEGY_POPULARITY;
		CHECK_OK(layer_plan_make(&p, a, NULL, strategy, 2));
		check_plan(&p, a, s ? "tux baz bar; foo; " : "tux; baz bar foo; ");
		layer_plan_release(&p);
		CHECK_OK(layer_plan_make(&p, b, NULL, strategy, 2));
		check_plan(&p, b, s ? "tux baz bar; foo; " : "tux; baz bar foo; ");
		layer_plan_release(&p);
	}
	stw_graph_free(a);
	stw_graph_free(b);
}

TEST(strategy_names)
{
	enum stw_strategy s;
	CHECK_OK(stw_strategy_parse(&s, "size"));
	CHECK_EQ_INT(s, STW_STRATEGY_SIZE);
	CHECK_OK(stw_strategy_parse(&s, "popularity"));
	CHECK_EQ_INT(s, STW_STRATEGY_POPULARITY);
	CHECK_FAILS(stw_strategy_parse(&s, "random"), "unknown layering strategy 'random'");
}

int main(void)
{
	return run_tests(TESTS(ENTRY(nixpkgs_contest), ENTRY(scores_add_up_over_roots), ENTRY(tie_break_by_name),
			       ENTRY(popularity_plan), ENTRY(size_plan), ENTRY(size_plan_properties), ENTRY(small_roots_keep_their_layers),
			       ENTRY(aggregators_keep_their_layers),
			       ENTRY(plans_do_not_depend_on_input_order), ENTRY(strategy_names)));
}
