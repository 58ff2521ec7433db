/* Parsing WWW-Authenticate challenges (lib/www_authenticate.h). */
#include "harness.h"

#include "www_authenticate.h"

#include <time.h>

#define HUB_REALM "https://auth.docker.io/token"
#define HUB_CHALLENGE "Bearer realm=\"" HUB_REALM "\",service=\"registry.docker.io\"," \
	"scope=\"repository:samalba/my-app:pull,push\""

/* The header must be refused with a message naming the header and holding
 * substring, leaving the challenge empty. */
#define check_fails(header, substring) check_fails_at(__LINE__, header, substring)
static void check_fails_at(int line, const char *header, const char *substring)
{
	struct auth_challenge c;

	if (auth_challenge_parse(&c, header) == 0)
		test_fail(__FILE__, line, "'%.200s' parsed", header ? header : "(null)");
	if (!strstr(stw_error_last(), substring) || !strstr(stw_error_last(), "WWW-Authenticate"))
		test_fail(__FILE__, line, "'%.200s': message \"%s\" lacks \"%s\"", header ? header : "(null)",
			  stw_error_last(), substring);
	CHECK(!c.scheme && !c.realm && !c.service && !c.scope && !c.error);
	auth_challenge_release(&c);
}

TEST(docker_hub_bearer)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, HUB_CHALLENGE));
	CHECK_EQ_STR(c.scheme, "bearer");
	CHECK_EQ_STR(c.realm, HUB_REALM);
	CHECK_EQ_STR(c.service, "registry.docker.io");
	CHECK_EQ_STR(c.scope, "repository:samalba/my-app:pull,push");
	CHECK(c.error == NULL);
	auth_challenge_release(&c);
	auth_challenge_release(&c); /* twice is harmless */
	CHECK(c.scheme == NULL);
}

TEST(insufficient_scope)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, HUB_CHALLENGE ",error=\"insufficient_scope\""));
	CHECK_EQ_STR(c.scheme, "bearer");
	CHECK_EQ_STR(c.scope, "repository:samalba/my-app:pull,push");
	CHECK_EQ_STR(c.error, "insufficient_scope");
	auth_challenge_release(&c);
	/* error first, unquoted, several scopes in one value */
	CHECK_OK(auth_challenge_parse(&c, "Bearer error=invalid_token, realm=\"r\", "
				      "scope=\"repository:a:pull repository:b:push,pull\""));
	CHECK_EQ_STR(c.error, "invalid_token");
	CHECK_EQ_STR(c.scope, "repository:a:pull repository:b:push,pull");
	CHECK(c.service == NULL);
	auth_challenge_release(&c);
}

TEST(basic_realm)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"Registry Realm\""));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK_EQ_STR(c.realm, "Registry Realm");
	CHECK(!c.service && !c.scope && !c.error);
	auth_challenge_release(&c);
	/* RFC 7617: a charset parameter, ignored */
	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"foo\", charset=\"UTF-8\""));
	CHECK_EQ_STR(c.realm, "foo");
	auth_challenge_release(&c);
	/* no parameters at all, and a token68 */
	CHECK_OK(auth_challenge_parse(&c, "Basic"));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK(c.realm == NULL);
	auth_challenge_release(&c);
	CHECK_OK(auth_challenge_parse(&c, "Basic dXNlcjpwYXNz=="));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK(c.realm == NULL);
	auth_challenge_release(&c);
	/* "Bearer realm" and "Bearer realm=" are token68 challenges (RFC 7235
	 * syntax), not parameters: no realm, which the client must check */
	CHECK_OK(auth_challenge_parse(&c, "Bearer realm"));
	CHECK(c.realm == NULL);
	auth_challenge_release(&c);
	CHECK_OK(auth_challenge_parse(&c, "Bearer realm="));
	CHECK(c.realm == NULL);
	auth_challenge_release(&c);
}

TEST(multiple_challenges)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"x\", Bearer realm=\"y\",service=\"z\""));
	CHECK_EQ_STR(c.scheme, "bearer");
	CHECK_EQ_STR(c.realm, "y");
	CHECK_EQ_STR(c.service, "z");
	auth_challenge_release(&c);
	/* the first Bearer wins over a later one */
	CHECK_OK(auth_challenge_parse(&c, "Bearer realm=\"a\", Bearer realm=\"b\", Basic realm=\"c\""));
	CHECK_EQ_STR(c.realm, "a");
	auth_challenge_release(&c);
	/* RFC 7235's example: an unknown scheme with parameters, then Basic */
	CHECK_OK(auth_challenge_parse(&c, "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
				      "Basic realm=\"simple\""));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK_EQ_STR(c.realm, "simple");
	auth_challenge_release(&c);
	/* a token68 challenge, a bare scheme and the first Basic among two */
	CHECK_OK(auth_challenge_parse(&c, "Negotiate abc+/==, Basic realm=\"one\", NTLM, Basic realm=\"two\""));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK_EQ_STR(c.realm, "one");
	auth_challenge_release(&c);
	/* parameters of the challenge that is not chosen do not leak into it */
	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"b\", service=\"basic-svc\", Bearer realm=\"t\""));
	CHECK_EQ_STR(c.realm, "t");
	CHECK(c.service == NULL);
	auth_challenge_release(&c);
}

TEST(case_and_spaces)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, "  BEARER   Realm = \"R\" ,SERVICE=\"S\"\t,, ,  sCoPe=\"Sc\"  ,\r\n"));
	CHECK_EQ_STR(c.scheme, "bearer");
	CHECK_EQ_STR(c.realm, "R"); /* values keep their case */
	CHECK_EQ_STR(c.service, "S");
	CHECK_EQ_STR(c.scope, "Sc");
	auth_challenge_release(&c);
	CHECK_OK(auth_challenge_parse(&c, "bAsIc REALM=x"));
	CHECK_EQ_STR(c.scheme, "basic");
	CHECK_EQ_STR(c.realm, "x");
	auth_challenge_release(&c);
}

TEST(quoted_commas_and_escapes)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, "Bearer realm=\"a, b,c\",scope=\"repository:x:pull,push\", service=\",\""));
	CHECK_EQ_STR(c.realm, "a, b,c");
	CHECK_EQ_STR(c.scope, "repository:x:pull,push");
	CHECK_EQ_STR(c.service, ",");
	auth_challenge_release(&c);
	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"say \\\"hi\\\" \\\\ th\\ere\""));
	CHECK_EQ_STR(c.realm, "say \"hi\" \\ there");
	auth_challenge_release(&c);
	/* a quoted '=' and a quoted quote do not start parameters */
	CHECK_OK(auth_challenge_parse(&c, "Bearer realm=\"x=\\\", Basic realm=\", service=\"s\""));
	CHECK_EQ_STR(c.scheme, "bearer");
	CHECK_EQ_STR(c.realm, "x=\", Basic realm=");
	CHECK_EQ_STR(c.service, "s");
	auth_challenge_release(&c);
	/* empty values are values */
	CHECK_OK(auth_challenge_parse(&c, "Bearer realm=\"\",service=\"\""));
	CHECK_EQ_STR(c.realm, "");
	CHECK_EQ_STR(c.service, "");
	auth_challenge_release(&c);
	/* non-ASCII bytes (obs-text) pass through */
	CHECK_OK(auth_challenge_parse(&c, "Basic realm=\"caf\xc3\xa9\""));
	CHECK_EQ_STR(c.realm, "caf\xc3\xa9");
	auth_challenge_release(&c);
}

TEST(unquoted_values)
{
	struct auth_challenge c;

	CHECK_OK(auth_challenge_parse(&c, "Bearer realm=https://r.example/token?a=b,service=reg.example:5000"));
	CHECK_EQ_STR(c.realm, "https://r.example/token?a=b");
	CHECK_EQ_STR(c.service, "reg.example:5000");
	auth_challenge_release(&c);
}

TEST(malformed)
{
	check_fails(NULL, "empty");
	check_fails("", "empty");
	check_fails("   \t ", "empty");
	check_fails(" , ,", "empty");
	check_fails("Bearer realm=\"abc", "unterminated quoted string");
	check_fails("Bearer realm=\"abc\\", "unterminated quoted string");
	check_fails("Bearer realm=\"abc\\\"", "unterminated quoted string");
	check_fails(HUB_CHALLENGE ",error=\"insufficient_scope", "unterminated");
	check_fails("\"Bearer\"", "expected an authentication scheme");
	check_fails("=realm", "expected an authentication scheme");
	check_fails("@@@", "expected an authentication scheme");
	check_fails("Bearer a=b, realm=", "expected a parameter value");
	check_fails("Bearer a=b,realm=,service=x", "expected a parameter value");
	check_fails("Bearer realm=,service=x", "expected a space"); /* token68 "realm=", then "service" */
	check_fails("Bearer realm=\"x\" junk", "expected ','");
	check_fails("Bearer realm=\"x\" service=\"y\"", "expected ','");
	check_fails("Bearer realm=\"a\"b", "expected ','");
	check_fails("Bearer\"realm\"", "expected a space");
	check_fails("Bearer=x", "expected a space");
	check_fails("Bearer realm=\"a\x01\"", "control character");
	check_fails("Bearer realm=\"a\nb\"", "control character");
	check_fails("Bearer realm=a\\b", "expected ','");
	check_fails("Bearer realm=\"a\", realm=\"b\"", "repeated parameter");
	check_fails("Bearer realm=\"a\", REALM=\"a\"", "repeated parameter");
	check_fails("Basic realm=\"x\", Bearer realm=\"y\" z", "expected ','");
	check_fails("Basic abc==, x=y", "expected a space");
	check_fails("Basic realm=\"x\", \x7f", "expected an authentication scheme");
}

TEST(neither_bearer_nor_basic)
{
	check_fails("Negotiate", "neither Bearer nor Basic");
	check_fails("Digest realm=\"x\", nonce=\"y\", NTLM abc=", "neither Bearer nor Basic");
	check_fails("Bearerx realm=\"x\"", "neither Bearer nor Basic");
}

TEST(size_limit)
{
	size_t len = AUTH_HEADER_MAX;
	char *header = malloc(2 * len + 64);
	struct auth_challenge c;

	CHECK(header != NULL);
	/* exactly at the limit parses */
	memset(header, ' ', len);
	memcpy(header + len - 16, "Bearer realm=\"x\"", 16);
	header[len] = 0;
	CHECK_OK(auth_challenge_parse(&c, header));
	CHECK_EQ_STR(c.realm, "x");
	auth_challenge_release(&c);
	/* one byte more does not, wherever the challenge is */
	memset(header, ' ', len + 1);
	memcpy(header, "Bearer realm=\"x\"", 16);
	header[len + 1] = 0;
	check_fails(header, "longer than 16384 bytes");
	/* nor does a huge quoted value */
	memset(header, 'a', 2 * len);
	memcpy(header, "Bearer realm=\"", 14);
	memcpy(header + 2 * len, "\"", 2);
	check_fails(header, "longer than");
	free(header);
}

/* Inputs built to defeat a look-ahead parser, at the size limit: each must
 * finish quickly (they are linear; a quadratic parser takes seconds). */
TEST(hostile_inputs_stay_linear)
{
	static const char *const units[] = { "a=b,", ",", "Basic ", "x ", "a=\"\\\\\",", "Negotiate abc, ",
					     "Basic realm=\"r\", " };
	size_t len = AUTH_HEADER_MAX;
	char *header = malloc(len + 1);
	struct auth_challenge c;
	clock_t start = clock();

	CHECK(header != NULL);
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t unit_len = strlen(units[u]), used = 0;
		memcpy(header, "Bearer ", 7);
		used = 7;
		while (used + unit_len <= len) {
			memcpy(header + used, units[u], unit_len);
			used += unit_len;
		}
		header[used] = 0;
		for (int i = 0; i < 20; i++) {
			if (auth_challenge_parse(&c, header) == 0)
				auth_challenge_release(&c);
		}
	}
	free(header);
	test_note("%.3f s for 140 parses of 16 KiB", (double)(clock() - start) / CLOCKS_PER_SEC);
	CHECK((clock() - start) / CLOCKS_PER_SEC < 5);
}

/* Random mutations of real headers: parse or fail, never crash or leak
 * (run under the sanitizer build). */
TEST(mutations_never_crash)
{
	static const char *const seeds[] = {
		HUB_CHALLENGE ",error=\"insufficient_scope\"",
		"Basic realm=\"x\", Bearer realm=\"y\",service=\"z\"",
		"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
		"Negotiate abc==, Basic dXNlcg==",
	};
	static const char alphabet[] = "\"\\,= \tBasicBearer=realm\x01\x7f\xc3";
	unsigned int seed = 12345;
	char header[512];
	int parsed = 0, failed = 0;

	for (int round = 0; round < 20000; round++) {
		const char *base = seeds[round % 4];
		size_t len = strlen(base);
		struct auth_challenge c;

		memcpy(header, base, len + 1);
		for (int m = 0; m < 1 + round % 4; m++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 8) % 3) {
			case 0: /* replace */
				header[at] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
				break;
			case 1: /* truncate */
				header[at] = 0;
				len = at ? at : 1;
				break;
			default: /* delete */
				memmove(header + at, header + at + 1, len - at);
				len = len > 1 ? len - 1 : 1;
				break;
			}
			len = strlen(header) ? strlen(header) : 1;
		}
		if (auth_challenge_parse(&c, header) == 0) {
			CHECK(c.scheme && (!strcmp(c.scheme, "bearer") || !strcmp(c.scheme, "basic")));
			parsed++;
		} else {
			CHECK(!c.scheme && stw_error_last()[0]);
			failed++;
		}
		auth_challenge_release(&c);
	}
	test_note("%d parsed, %d refused", parsed, failed);
	CHECK(parsed > 0 && failed > 0);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(docker_hub_bearer), ENTRY(insufficient_scope), ENTRY(basic_realm),
			       ENTRY(multiple_challenges), ENTRY(case_and_spaces), ENTRY(quoted_commas_and_escapes),
			       ENTRY(unquoted_values), ENTRY(malformed), ENTRY(neither_bearer_nor_basic),
			       ENTRY(size_limit), ENTRY(hostile_inputs_stay_linear), ENTRY(mutations_never_crash)));
}
