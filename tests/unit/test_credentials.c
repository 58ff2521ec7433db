/* Registry credentials (lib/credentials.h): config.json lookups, credential
 * helpers (fake ones written to the scratch directory and put on PATH),
 * USER:PASS strings and the Basic header. */
#include "harness.h"

#include "credentials.h"

/* base64 of the user:pass pairs used below */
#define B64_USER_PA_SS "dXNlcjpwYTpzcw==" /* user:pa:ss */
#define B64_A_1 "YTox"                    /* a:1 */
#define B64_B_2 "Yjoy"                    /* b:2 */
#define B64_HUB "Y2ktYm90Omh1Yi1zZWNyZXQ=" /* ci-bot:hub-secret */

static char config_path[4200];

/* Writes the config file; returns its path. */
static const char *write_config(const char *json)
{
	snprintf(config_path, sizeof(config_path), "%s/config.json", scratch_dir());
	make_file(config_path, json, strlen(json), 0600);
	return config_path;
}

/* Looks host up in json; *found as the result. The credentials are the
 * caller's to release. */
#define LOOKUP(creds, found, json, host) CHECK_OK(credentials_lookup(creds, found, write_config(json), host))

static void check_user(const char *json, const char *host, const char *user, const char *pass, int line)
{
	struct registry_credentials c;
	int found = -1;

	if (credentials_lookup(&c, &found, write_config(json), host) < 0)
		test_fail(__FILE__, line, "lookup of '%s' failed: %s", host, stw_error_last());
	if (!found || !c.username || strcmp(c.username, user) || !c.password || strcmp(c.password, pass))
		test_fail(__FILE__, line, "'%s' in %s: found=%d user=%s", host, json, found,
			  c.username ? c.username : "(null)");
	registry_credentials_release(&c);
}
#define CHECK_USER(json, host, user, pass) check_user(json, host, user, pass, __LINE__)

static void check_not_found(const char *json, const char *host, int line)
{
	struct registry_credentials c;
	int found = -1;

	if (credentials_lookup(&c, &found, write_config(json), host) < 0)
		test_fail(__FILE__, line, "lookup of '%s' failed: %s", host, stw_error_last());
	if (found || c.username || c.password || c.identity_token)
		test_fail(__FILE__, line, "'%s' found in %s", host, json);
}
#define CHECK_NOT_FOUND(json, host) check_not_found(json, host, __LINE__)

/* A lookup that must fail with a message naming the config file, holding
 * substring and not holding secret. */
static void check_lookup_fails(const char *json, const char *host, const char *substring, const char *secret,
			       int line)
{
	struct registry_credentials c;
	int found = -1;
	const char *msg;

	if (credentials_lookup(&c, &found, write_config(json), host) == 0)
		test_fail(__FILE__, line, "lookup of '%s' in %s succeeded", host, json);
	msg = stw_error_last();
	if (!strstr(msg, substring) || !strstr(msg, config_path))
		test_fail(__FILE__, line, "message \"%s\" lacks \"%s\" or the file name", msg, substring);
	if (secret && strstr(msg, secret))
		test_fail(__FILE__, line, "message \"%s\" shows the secret \"%s\"", msg, secret);
	if (found || c.username || c.password || c.identity_token)
		test_fail(__FILE__, line, "a failed lookup left credentials");
}
#define CHECK_LOOKUP_FAILS(json, host, substring, secret) check_lookup_fails(json, host, substring, secret, __LINE__)

TEST(auths_base64)
{
	CHECK_USER("{\"auths\":{\"ghcr.io\":{\"auth\":\"" B64_USER_PA_SS "\"}}}", "ghcr.io", "user", "pa:ss");
	/* other members and entries do not disturb */
	CHECK_USER("{\"HttpHeaders\":{\"User-Agent\":\"x\"},\"auths\":{\"quay.io\":{\"auth\":\"" B64_A_1 "\"},"
		   "\"ghcr.io\":{\"auth\":\"" B64_B_2 "\",\"email\":\"e@x\"}}}",
		   "ghcr.io", "b", "2");
	/* plain username and password members */
	CHECK_USER("{\"auths\":{\"ghcr.io\":{\"username\":\"u\",\"password\":\"p\"}}}", "ghcr.io", "u", "p");
	/* "auth" wins over them */
	CHECK_USER("{\"auths\":{\"ghcr.io\":{\"auth\":\"" B64_A_1 "\",\"username\":\"u\",\"password\":\"p\"}}}",
		   "ghcr.io", "a", "1");
}

TEST(identity_token)
{
	struct registry_credentials c;
	int found;

	LOOKUP(&c, &found, "{\"auths\":{\"r.azurecr.io\":{\"auth\":"
	       "\"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==\",\"identitytoken\":\"refresh-1\"}}}",
	       "r.azurecr.io");
	CHECK_EQ_INT(found, 1);
	CHECK_EQ_STR(c.username, "00000000-0000-0000-0000-000000000000");
	CHECK_EQ_STR(c.password, "");
	CHECK_EQ_STR(c.identity_token, "refresh-1");
	registry_credentials_release(&c);
	CHECK(!c.username && !c.password && !c.identity_token);

	LOOKUP(&c, &found, "{\"auths\":{\"r.io\":{\"identitytoken\":\"refresh-2\"}}}", "r.io");
	CHECK_EQ_INT(found, 1);
	CHECK(c.username == NULL && c.password == NULL);
	CHECK_EQ_STR(c.identity_token, "refresh-2");
	registry_credentials_release(&c);

	/* "<token>:secret" in auth is an identity token too */
	LOOKUP(&c, &found, "{\"auths\":{\"r.io\":{\"auth\":\"PHRva2VuPjpyZWZyZXNoLXRvaw==\"}}}", "r.io");
	CHECK_EQ_INT(found, 1);
	CHECK(c.username == NULL && c.password == NULL);
	CHECK_EQ_STR(c.identity_token, "refresh-tok");
	registry_credentials_release(&c);
}

TEST(key_variants)
{
	static const char *const keys[] = {
		"127.0.0.1:5000", "https://127.0.0.1:5000", "http://127.0.0.1:5000", "127.0.0.1:5000/",
		"https://127.0.0.1:5000/", "https://127.0.0.1:5000/v1/", "http://127.0.0.1:5000/v1/",
		"HTTPS://127.0.0.1:5000/v2/", "https://127.0.0.1:5000/v1",
	};
	static const char *const others[] = {
		"127.0.0.1:5001", "127.0.0.1", "https://127.0.0.1:5000/foo/", "https://127.0.0.1:5000/v1/x",
		"ftp://127.0.0.1:5000", "https://", "", "127.0.0.1:50000", "x127.0.0.1:5000",
	};
	char json[512];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(json, sizeof(json), "{\"auths\":{\"%s\":{\"auth\":\"" B64_A_1 "\"}}}", keys[i]);
		CHECK_USER(json, "127.0.0.1:5000", "a", "1");
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(json, sizeof(json), "{\"auths\":{\"%s\":{\"auth\":\"" B64_A_1 "\"}}}", others[i]);
		CHECK_NOT_FOUND(json, "127.0.0.1:5000");
	}
	/* host names are case-insensitive */
	CHECK_USER("{\"auths\":{\"https://GHCR.io\":{\"auth\":\"" B64_A_1 "\"}}}", "ghcr.IO", "a", "1");
}

TEST(docker_hub_key)
{
	static const char *const hosts[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };
	const char *json = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" B64_HUB "\"}}}";

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		CHECK_USER(json, hosts[i], "ci-bot", "hub-secret");
	CHECK_USER("{\"auths\":{\"docker.io\":{\"auth\":\"" B64_HUB "\"}}}", "registry-1.docker.io", "ci-bot",
		   "hub-secret");
	CHECK_NOT_FOUND(json, "quay.io");
	CHECK_NOT_FOUND(json, "docker.io:5000");
}

TEST(match_order)
{
	/* the key equal to host wins over an earlier variant */
	CHECK_USER("{\"auths\":{\"https://ghcr.io\":{\"auth\":\"" B64_A_1 "\"},\"ghcr.io\":{\"auth\":\"" B64_B_2
		   "\"}}}", "ghcr.io", "b", "2");
	/* then file order */
	CHECK_USER("{\"auths\":{\"https://ghcr.io/\":{\"auth\":\"" B64_A_1 "\"},\"http://ghcr.io\":{\"auth\":\"" B64_B_2
		   "\"}}}", "ghcr.io", "a", "1");
	/* an entry without credentials (what docker login leaves beside a
	 * credsStore) passes to the next match */
	CHECK_USER("{\"auths\":{\"ghcr.io\":{},\"https://ghcr.io/v1/\":{\"auth\":\"" B64_B_2 "\"}}}", "ghcr.io", "b",
		   "2");
	CHECK_NOT_FOUND("{\"auths\":{\"ghcr.io\":{\"auth\":\"\"}}}", "ghcr.io");
	/* a broken entry for another registry is not looked at */
	CHECK_USER("{\"auths\":{\"quay.io\":{\"auth\":\"!!\"},\"ghcr.io\":{\"auth\":\"" B64_A_1 "\"}}}", "ghcr.io",
		   "a", "1");
}

TEST(not_found)
{
	struct registry_credentials c;
	char path[4200];
	int found = -1;

	snprintf(path, sizeof(path), "%s/missing/config.json", scratch_dir());
	CHECK_OK(credentials_lookup(&c, &found, path, "ghcr.io"));
	CHECK_EQ_INT(found, 0);
	CHECK(!c.username && !c.password && !c.identity_token);
	found = -1;
	CHECK_OK(credentials_lookup(&c, &found, NULL, "ghcr.io"));
	CHECK_EQ_INT(found, 0);
	CHECK_NOT_FOUND("{}", "ghcr.io");
	CHECK_NOT_FOUND("{\"auths\":{}}", "ghcr.io");
	CHECK_NOT_FOUND("{\"auths\":null,\"credsStore\":\"\",\"credHelpers\":{}}", "ghcr.io");
	CHECK_NOT_FOUND("{\"auths\":{\"quay.io\":{\"auth\":\"" B64_A_1 "\"}}}", "ghcr.io");
}

TEST(malformed_files)
{
	struct registry_credentials c;
	int found = -1;

	/* jansson's message quotes the input near the error: not shown */
	CHECK_LOOKUP_FAILS("{\"auths\":{\"ghcr.io\":{\"auth\":\"SECRETSTUFF", "ghcr.io", "not valid JSON",
			   "SECRETSTUFF");
	CHECK_LOOKUP_FAILS("{\"auths\":{\"ghcr.io\":{\"auth\":SECRETSTUFF}}}", "ghcr.io", "not valid JSON",
			   "SECRETSTUFF");
	CHECK_LOOKUP_FAILS("", "ghcr.io", "not valid JSON", NULL);
	CHECK_LOOKUP_FAILS("[]", "ghcr.io", "not a JSON object", NULL);
	CHECK_LOOKUP_FAILS("{\"auths\":[]}", "ghcr.io", "\"auths\" is not an object", NULL);
	CHECK_LOOKUP_FAILS("{\"credsStore\":1}", "ghcr.io", "\"credsStore\" is not a string", NULL);
	CHECK_LOOKUP_FAILS("{\"credHelpers\":{\"ghcr.io\":true}}", "ghcr.io", "not a string", NULL);
	CHECK_LOOKUP_FAILS("{\"auths\":{\"ghcr.io\":\"x\"}}", "ghcr.io", "not an object", NULL);
	CHECK_LOOKUP_FAILS("{\"auths\":{\"ghcr.io\":{\"auth\":7}}}", "ghcr.io", "\"auth\" is not a string", NULL);
	/* a directory is not a file */
	CHECK_FAILS(credentials_lookup(&c, &found, scratch_dir(), "ghcr.io"), scratch_dir());
	CHECK_EQ_INT(found, 0);
	/* nor is the host checked only after reading */
	CHECK_FAILS(credentials_lookup(&c, &found, NULL, ""), "invalid registry host");
	CHECK_FAILS(credentials_lookup(&c, &found, NULL, "ghcr.io/x"), "invalid registry host");
	CHECK_FAILS(credentials_lookup(&c, &found, NULL, NULL), "invalid registry host");
}

TEST(wrong_base64)
{
	static const char *const bad[] = {
		"not base64!",  "dXNlcjpwYXNz\\n", " dXNlcjpwYXNz", "dX=lcjpwYXNz", "dXNlcjpwYXN",
		"dXNlcjpwYX===", "bm9jb2xvbg==" /* nocolon */, "OnBhc3M=" /* :pass */, "dXNl-jpwYXNz",
		"dXNlcgBwOnE=" /* user\0p:q */,
	};
	char json[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"auths\":{\"ghcr.io\":{\"auth\":\"%s\"}}}", bad[i]);
		CHECK_LOOKUP_FAILS(json, "ghcr.io", "\"auth\" value for this registry is not base64 of USER:PASS",
				   bad[i]);
	}
}

/* Fake credential helpers ------------------------------------------------ */

static char saved_path[8192];

/* Puts scratch/bin first on PATH (restored by restore_path). */
static const char *helper_dir(void)
{
	static char dir[4200];
	const char *path = getenv("PATH");
	char new_path[sizeof(saved_path) + sizeof(dir)];

	snprintf(dir, sizeof(dir), "%s/bin", scratch_dir());
	if (mkdir(dir, 0700) == 0) {
		snprintf(saved_path, sizeof(saved_path), "%s", path ? path : "/usr/bin:/bin");
		snprintf(new_path, sizeof(new_path), "%s:%s", dir, saved_path);
		setenv("PATH", new_path, 1);
	}
	return dir;
}

static void restore_path(void)
{
	if (saved_path[0])
		setenv("PATH", saved_path, 1);
	saved_path[0] = 0;
}

/*
 * docker-credential-<name>: records its arguments in scratch/argv-<name>,
 * exits 9 unless stdin is exactly expected_url, writes noise to stderr,
 * then runs body (shell).
 */
static void write_helper(const char *name, const char *expected_url, const char *body)
{
	char path[4400], script[8192];
	const char *dir = helper_dir();
	int n;

	snprintf(path, sizeof(path), "%s/docker-credential-%s", dir, name);
	n = snprintf(script, sizeof(script),
		     "#!/bin/sh\n"
		     "printf '%%s\\n' \"$@\" > '%s/argv-%s'\n"
		     "url=$(cat)\n"
		     "if [ \"$url\" != '%s' ]; then echo \"unexpected stdin: $url\"; exit 9; fi\n"
		     "echo 'helper noise on stderr' >&2\n"
		     "%s\n",
		     scratch_dir(), name, expected_url, body);
	CHECK(n > 0 && (size_t)n < sizeof(script));
	make_file(path, script, (size_t)n, 0755);
}

/* What helper name was run with, one argument a line. */
static const char *helper_argv(const char *name)
{
	static char text[4096];
	char path[4400];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/argv-%s", scratch_dir(), name);
	f = fopen(path, "r");
	if (!f)
		return "(not run)";
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return text;
}

#define ANSWER(user, secret) "printf '%s' '{\"ServerURL\":\"x\",\"Username\":\"" user "\",\"Secret\":\"" secret "\"}'"
#define NOT_FOUND "echo 'credentials not found in native keychain'; exit 1"

/*
 * Runs a lookup with fd 2 sent to a file, so a test can see that nothing
 * (the helper's stderr in particular) was written there.
 */
static int lookup_quietly(struct registry_credentials *c, int *found, const char *json, const char *host,
			  char *stderr_text, size_t stderr_size)
{
	char path[4400];
	int saved = dup(2), fd, ret;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", scratch_dir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved < 0 || fd < 0)
		test_fail(__FILE__, __LINE__, "cannot redirect stderr");
	fflush(stderr);
	dup2(fd, 2);
	ret = credentials_lookup(c, found, write_config(json), host);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, stderr_text, stderr_size - 1, 0);
	stderr_text[n > 0 ? n : 0] = 0;
	close(fd);
	return ret;
}

TEST(creds_store)
{
	struct registry_credentials c;
	char err_text[256];
	int found = -1;

	write_helper("teststore", "ghcr.io", ANSWER("store-user", "store-s3cret"));
	CHECK_OK(lookup_quietly(&c, &found, "{\"credsStore\":\"teststore\",\"auths\":{\"ghcr.io\":{}}}", "ghcr.io",
				err_text, sizeof(err_text)));
	CHECK_EQ_INT(found, 1);
	CHECK_EQ_STR(c.username, "store-user");
	CHECK_EQ_STR(c.password, "store-s3cret");
	CHECK(c.identity_token == NULL);
	registry_credentials_release(&c);
	/* argv is exactly "get"; the server URL came on stdin */
	CHECK_EQ_STR(helper_argv("teststore"), "get\n");
	CHECK(!strstr(helper_argv("teststore"), "s3cret"));
	/* the helper's stderr went nowhere */
	CHECK_EQ_STR(err_text, "");
	/* credsStore wins over auths */
	CHECK_USER("{\"credsStore\":\"teststore\",\"auths\":{\"ghcr.io\":{\"auth\":\"" B64_A_1 "\"}}}", "ghcr.io",
		   "store-user", "store-s3cret");
	restore_path();
}

TEST(cred_helpers_first)
{
	const char *json = "{\"credHelpers\":{\"ghcr.io\":\"perhost\",\"quay.io\":\"other\"},"
			   "\"credsStore\":\"teststore\",\"auths\":{\"ghcr.io\":{\"auth\":\"" B64_A_1 "\"}}}";

	write_helper("perhost", "ghcr.io", ANSWER("helper-user", "helper-s3cret"));
	write_helper("teststore", "ghcr.io", ANSWER("store-user", "store-s3cret"));
	CHECK_USER(json, "ghcr.io", "helper-user", "helper-s3cret");
	CHECK_EQ_STR(helper_argv("perhost"), "get\n");
	CHECK_EQ_STR(helper_argv("teststore"), "(not run)");
	/* a credHelpers key in URL form matches too */
	CHECK_USER("{\"credHelpers\":{\"https://ghcr.io\":\"perhost\"},\"credsStore\":\"teststore\"}", "ghcr.io",
		   "helper-user", "helper-s3cret");
	/* Docker Hub: the helper is asked for Docker's key */
	write_helper("hub", "https://index.docker.io/v1/", ANSWER("hub-user", "hub-s3cret"));
	CHECK_USER("{\"credHelpers\":{\"docker.io\":\"hub\"}}", "registry-1.docker.io", "hub-user", "hub-s3cret");
	CHECK_USER("{\"credsStore\":\"hub\"}", "docker.io", "hub-user", "hub-s3cret");
	restore_path();
}

TEST(helper_identity_token)
{
	struct registry_credentials c;
	int found = -1;

	write_helper("tok", "myreg.azurecr.io", ANSWER("<token>", "refresh-s3cret"));
	LOOKUP(&c, &found, "{\"credHelpers\":{\"myreg.azurecr.io\":\"tok\"}}", "myreg.azurecr.io");
	CHECK_EQ_INT(found, 1);
	CHECK(c.username == NULL && c.password == NULL);
	CHECK_EQ_STR(c.identity_token, "refresh-s3cret");
	registry_credentials_release(&c);
	CHECK(!strstr(helper_argv("tok"), "s3cret"));
	restore_path();
}

TEST(helper_not_found)
{
	write_helper("empty", "ghcr.io", NOT_FOUND);
	CHECK_NOT_FOUND("{\"credsStore\":\"empty\"}", "ghcr.io");
	CHECK_NOT_FOUND("{\"credHelpers\":{\"ghcr.io\":\"empty\"}}", "ghcr.io");
	CHECK_EQ_STR(helper_argv("empty"), "get\n");
	/* not found passes on: credHelpers to credsStore to auths */
	write_helper("teststore", "ghcr.io", ANSWER("store-user", "store-s3cret"));
	CHECK_USER("{\"credHelpers\":{\"ghcr.io\":\"empty\"},\"credsStore\":\"teststore\"}", "ghcr.io", "store-user",
		   "store-s3cret");
	CHECK_USER("{\"credsStore\":\"empty\",\"auths\":{\"ghcr.io\":{\"auth\":\"" B64_A_1 "\"}}}", "ghcr.io", "a",
		   "1");
	/* an empty answer is nothing stored */
	write_helper("blank", "ghcr.io", ANSWER("", ""));
	CHECK_NOT_FOUND("{\"credsStore\":\"blank\"}", "ghcr.io");
	restore_path();
}

TEST(helper_failures)
{
	struct registry_credentials c;
	char err_text[256];
	int found = -1;

	write_helper("garbage", "ghcr.io", "echo 'GARBAGE-s3cret not json'");
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"garbage\"}", "ghcr.io", "docker-credential-garbage", "s3cret");
	CHECK(strstr(stw_error_last(), "not {\"Username\""));
	write_helper("wrongshape", "ghcr.io", "echo '{\"Username\":\"u\",\"Secret\":[\"s3cret\"]}'");
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"wrongshape\"}", "ghcr.io", "docker-credential-wrongshape", "s3cret");
	write_helper("crash", "ghcr.io", "echo 'fatal: s3cret exploded'; exit 2");
	CHECK_LOOKUP_FAILS("{\"credHelpers\":{\"ghcr.io\":\"crash\"}}", "ghcr.io", "exit status 2", "s3cret");
	CHECK(strstr(stw_error_last(), "docker-credential-crash"));
	write_helper("killed", "ghcr.io", "kill -9 $$");
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"killed\"}", "ghcr.io", "killed by signal 9", NULL);
	/* endless output: stopped at the bound */
	write_helper("chatty", "ghcr.io", "exec yes s3cret");
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"chatty\"}", "ghcr.io", "more than 65536 bytes", "s3cret");
	/* a helper that is not installed */
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"not-installed-anywhere\"}", "ghcr.io",
			   "cannot run credential helper 'docker-credential-not-installed-anywhere'", NULL);
	/* a name that would be a path */
	CHECK_LOOKUP_FAILS("{\"credsStore\":\"../../bin/sh\"}", "ghcr.io", "invalid credential helper", NULL);
	CHECK_LOOKUP_FAILS("{\"credHelpers\":{\"ghcr.io\":\"a b\"}}", "ghcr.io", "invalid credential helper", NULL);
	/* nothing of a failing helper reaches stderr either */
	CHECK(lookup_quietly(&c, &found, "{\"credsStore\":\"crash\"}", "ghcr.io", err_text, sizeof(err_text)) < 0);
	CHECK_EQ_STR(err_text, "");
	restore_path();
}

TEST(from_string)
{
	struct registry_credentials c;

	CHECK_OK(credentials_from_string(&c, "user:pa:ss"));
	CHECK_EQ_STR(c.username, "user");
	CHECK_EQ_STR(c.password, "pa:ss");
	CHECK(c.identity_token == NULL);
	registry_credentials_release(&c);
	registry_credentials_release(&c);
	registry_credentials_release(NULL);
	CHECK_FAILS(credentials_from_string(&c, "nocolons3cret"), "USER:PASS");
	CHECK(!strstr(stw_error_last(), "s3cret"));
	CHECK_FAILS(credentials_from_string(&c, ":s3cret"), "USER:PASS");
	CHECK(!strstr(stw_error_last(), "s3cret"));
	CHECK_FAILS(credentials_from_string(&c, "user:"), "USER:PASS");
	CHECK_FAILS(credentials_from_string(&c, ""), "USER:PASS");
	CHECK_FAILS(credentials_from_string(&c, NULL), "USER:PASS");
	CHECK(!c.username && !c.password);
}

TEST(basic_header)
{
	static const struct {
		const char *user, *pass, *header;
	} cases[] = {
		{ "Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" }, /* RFC 7617 */
		{ "aladdin", "opensesame", "Basic YWxhZGRpbjpvcGVuc2VzYW1l" },     /* no padding */
		{ "ab", "c", "Basic YWI6Yw==" },
		{ "abc", "d", "Basic YWJjOmQ=" },
		{ "a", "", "Basic YTo=" },
	};
	struct registry_credentials c = { 0 };
	char *header;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct registry_credentials k = { (char *)cases[i].user, (char *)cases[i].pass, NULL };
		CHECK_OK(credentials_basic_header(&header, &k));
		CHECK_EQ_STR(header, cases[i].header);
		free(header);
	}
	/* round trip through a config file */
	CHECK_OK(credentials_from_string(&c, "ci-bot:hub-secret"));
	CHECK_OK(credentials_basic_header(&header, &c));
	CHECK_EQ_STR(header, "Basic " B64_HUB);
	free(header);
	registry_credentials_release(&c);

	c.identity_token = "only-a-token";
	CHECK_FAILS(credentials_basic_header(&header, &c), "no username and password");
	CHECK(header == NULL);
	c.username = "a:b";
	c.password = "p";
	CHECK_FAILS(credentials_basic_header(&header, &c), "cannot contain ':'");
	CHECK_FAILS(credentials_basic_header(&header, NULL), "no username and password");
}

int main(void)
{
	return run_tests(TESTS(ENTRY(auths_base64), ENTRY(identity_token), ENTRY(key_variants), ENTRY(docker_hub_key),
			       ENTRY(match_order), ENTRY(not_found), ENTRY(malformed_files), ENTRY(wrong_base64),
			       ENTRY(creds_store), ENTRY(cred_helpers_first), ENTRY(helper_identity_token),
			       ENTRY(helper_not_found), ENTRY(helper_failures), ENTRY(from_string),
			       ENTRY(basic_header)));
}
