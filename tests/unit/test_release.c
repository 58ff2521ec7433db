/* The release tag rules (docs/release-cli.md), flocken's and the seed
 * configuration's: version without 'v', explicit tags, latest on the
 * default branch only without explicit tags, MAJOR.MINOR/MAJOR except for
 * prereleases, the branch as a tag. */
#include "harness.h"
#include "stowage/error.h"
#include "stowage/release.h"

#include <string.h>

/* The tags joined by spaces, for one comparison per case. */
static const char *tags_of(const char *version, const char *const *explicit, size_t n, const char *branch,
			   unsigned auto_tags)
{
	static char joined[512];
	char **tags = NULL;
	size_t count = 0;

	joined[0] = 0;
	if (stw_release_tags(&tags, &count, version, explicit, n, branch, "main", auto_tags) < 0)
		return "error";
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(joined);
		snprintf(joined + len, sizeof(joined) - len, "%s%s", i ? " " : "", tags[i]);
	}
	stw_release_tags_free(tags, count);
	return joined;
}

TEST(version_and_latest)
{
	CHECK_EQ_STR(tags_of("v1.2.3", NULL, 0, "main", 0), "1.2.3 latest");
	CHECK_EQ_STR(tags_of("1.2.3", NULL, 0, "main", 0), "1.2.3 latest");
	CHECK_EQ_STR(tags_of("1.2.3", NULL, 0, "develop", 0), "1.2.3");
	CHECK_EQ_STR(tags_of("1.2.3", NULL, 0, NULL, 0), "1.2.3");
}

TEST(explicit_tags_replace_latest)
{
	const char *const explicit[] = { "edge", "nightly", "edge" };
	CHECK_EQ_STR(tags_of("1.2.3", explicit, 3, "main", 0), "1.2.3 edge nightly");
}

TEST(major_minor_not_for_prereleases)
{
	unsigned mm = STW_AUTO_TAG_MAJOR | STW_AUTO_TAG_MINOR;
	CHECK_EQ_STR(tags_of("v1.2.3", NULL, 0, "main", mm), "1.2.3 latest 1.2 1");
	CHECK_EQ_STR(tags_of("1.2", NULL, 0, "main", mm), "1.2 latest 1");
	CHECK_EQ_STR(tags_of("2.0.0-rc.1", NULL, 0, "main", mm), "2.0.0-rc.1 latest");
	CHECK_EQ_STR(tags_of("20261121", NULL, 0, "main", mm), "20261121 latest");
	CHECK_EQ_STR(tags_of("1.2.3", NULL, 0, "main", STW_AUTO_TAG_MINOR), "1.2.3 latest 1.2");
}

TEST(branch_tag)
{
	CHECK_EQ_STR(tags_of("1.0", NULL, 0, "feature/x", STW_AUTO_TAG_BRANCH), "1.0 feature-x");
	CHECK_EQ_STR(tags_of("1.0", NULL, 0, "main", STW_AUTO_TAG_BRANCH), "1.0 latest main");
}

TEST(refusals)
{
	char **tags = NULL;
	size_t count = 0;
	const char *const bad[] = { "no spaces" };
	CHECK_FAILS(stw_release_tags(&tags, &count, NULL, NULL, 0, "main", "main", 0), "no version");
	CHECK_FAILS(stw_release_tags(&tags, &count, "", NULL, 0, "main", "main", 0), "no version");
	CHECK_FAILS(stw_release_tags(&tags, &count, "1.0", bad, 1, "main", "main", 0), "not a valid tag");
	CHECK(tags == NULL && count == 0);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(version_and_latest), ENTRY(explicit_tags_replace_latest),
			       ENTRY(major_minor_not_for_prereleases), ENTRY(branch_tag), ENTRY(refusals)));
}
