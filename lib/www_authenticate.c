#include "www_authenticate.h"

#include "buf.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * A cursor over the header. Every function below only moves pos forward,
 * except the two look-aheads (token68, next list element) which rescan at
 * most one element once, so the whole parse is linear in the length.
 */
struct cursor {
	const char *s;
	size_t len, pos;
};

#define HEADER "WWW-Authenticate header"

static int syntax_error(const struct cursor *c, const char *what)
{
	return stw_error("cannot parse " HEADER ": %s at byte %zu", what, c->pos);
}

static int is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return 1;
	return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int is_token68_char(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return 1;
	return ch && strchr("-._~+/", ch) != NULL;
}

/* Visible ASCII but the characters that end or quote a value. */
static int is_bare_value_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '"' && ch != ',' && ch != '\\';
}

static int is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int at_end(const struct cursor *c)
{
	return c->pos >= c->len;
}

static unsigned char peek(const struct cursor *c)
{
	return at_end(c) ? 0 : (unsigned char)c->s[c->pos];
}

static size_t skip_spaces(struct cursor *c)
{
	size_t start = c->pos;
	while (!at_end(c) && is_space(peek(c)))
		c->pos++;
	return c->pos - start;
}

/* Whitespace and commas between list elements (empty elements allowed). */
static void skip_separators(struct cursor *c)
{
	while (!at_end(c) && (is_space(peek(c)) || peek(c) == ','))
		c->pos++;
}

static size_t skip_token(struct cursor *c)
{
	size_t start = c->pos;
	while (!at_end(c) && is_tchar(peek(c)))
		c->pos++;
	return c->pos - start;
}

static int span_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && !strncasecmp(s, name, len);
}

static char *dup_lower(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i < len; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	d[len] = 0;
	return d;
}

/*
 * A token68 ("Basic dXNlcjpwYXNz") when one stands here and is the whole
 * list element: consumes it and returns 1. Otherwise moves nothing and
 * returns 0 ("realm=..." starts like a token68 but goes on).
 */
static int skip_token68(struct cursor *c)
{
	size_t start = c->pos;

	while (!at_end(c) && is_token68_char(peek(c)))
		c->pos++;
	if (c->pos == start)
		return 0;
	while (peek(c) == '=')
		c->pos++;
	skip_spaces(c);
	if (at_end(c) || peek(c) == ',')
		return 1;
	c->pos = start;
	return 0;
}

/* After a list separator: does a parameter ("name =") come next, rather
 * than the scheme of another challenge? Moves nothing. */
static int param_follows(struct cursor *c)
{
	size_t start = c->pos;
	int yes = skip_token(c) > 0;

	skip_spaces(c);
	yes = yes && peek(c) == '=';
	c->pos = start;
	return yes;
}

/* A quoted-string, unescaped into value (NULL: just skipped). */
static int parse_quoted(struct cursor *c, struct buf *value)
{
	c->pos++; /* the opening quote */
	for (;;) {
		unsigned char ch;
		if (at_end(c))
			return syntax_error(c, "unterminated quoted string");
		ch = peek(c);
		if (ch == '"') {
			c->pos++;
			return 0;
		}
		if (ch == '\\') {
			c->pos++;
			if (at_end(c))
				return syntax_error(c, "unterminated quoted string");
			ch = peek(c);
		}
		/* qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text */
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return syntax_error(c, "control character in quoted string");
		if (value && buf_addch(value, (char)ch) < 0)
			return -1;
		c->pos++;
	}
}

static char **param_slot(struct auth_challenge *ch, const char *name, size_t len)
{
	if (span_is(name, len, "realm"))
		return &ch->realm;
	if (span_is(name, len, "service"))
		return &ch->service;
	if (span_is(name, len, "scope"))
		return &ch->scope;
	if (span_is(name, len, "error"))
		return &ch->error;
	return NULL;
}

/* name BWS "=" BWS ( token / quoted-string ), kept in ch when it is one
 * of the parameters a registry client uses. */
static int parse_param(struct cursor *c, struct auth_challenge *ch)
{
	const char *name = c->s + c->pos;
	size_t name_len = skip_token(c);
	struct buf value;
	char **slot;
	int ret = -1;

	if (!name_len)
		return syntax_error(c, "expected a parameter name");
	skip_spaces(c);
	if (peek(c) != '=')
		return syntax_error(c, "expected '=' after a parameter name");
	c->pos++;
	skip_spaces(c);

	slot = param_slot(ch, name, name_len);
	if (slot && *slot)
		return syntax_error(c, "repeated parameter");
	buf_init(&value);
	if (peek(c) == '"') {
		if (parse_quoted(c, slot ? &value : NULL) < 0)
			goto out;
	} else {
		size_t start = c->pos;
		while (!at_end(c) && is_bare_value_char(peek(c)))
			c->pos++;
		if (c->pos == start) {
			syntax_error(c, "expected a parameter value");
			goto out;
		}
		if (slot && buf_add(&value, c->s + start, c->pos - start) < 0)
			goto out;
	}
	if (slot && !(*slot = buf_detach(&value, NULL))) {
		stw_error("out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&value);
	return ret;
}

/*
 * What follows a challenge's scheme: nothing, a token68, or parameters.
 * Leaves the cursor at the next challenge's scheme or at the end.
 */
static int parse_challenge_rest(struct cursor *c, struct auth_challenge *ch)
{
	size_t spaces = skip_spaces(c);

	if (at_end(c) || peek(c) == ',') {
		skip_separators(c);
		return 0;
	}
	if (!spaces)
		return syntax_error(c, "expected a space after the authentication scheme");
	if (skip_token68(c)) {
		skip_separators(c);
		return 0;
	}
	for (;;) {
		if (parse_param(c, ch) < 0)
			return -1;
		skip_spaces(c);
		if (at_end(c))
			return 0;
		if (peek(c) != ',')
			return syntax_error(c, "expected ',' after a parameter");
		skip_separators(c);
		if (at_end(c) || !param_follows(c))
			return 0;
	}
}

/* Moves *from into *to when *to is still empty; otherwise frees *from. */
static void keep_first(struct auth_challenge *to, struct auth_challenge *from)
{
	if (!to->scheme) {
		*to = *from;
		memset(from, 0, sizeof(*from));
	}
	auth_challenge_release(from);
}

int auth_challenge_parse(struct auth_challenge *out, const char *header)
{
	struct auth_challenge current = { 0 }, bearer = { 0 }, basic = { 0 };
	struct cursor c = { header, 0, 0 };
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!header)
		return stw_error("empty " HEADER);
	c.len = strnlen(header, AUTH_HEADER_MAX + 1);
	if (c.len > AUTH_HEADER_MAX)
		return stw_error(HEADER " longer than %d bytes", AUTH_HEADER_MAX);
	skip_separators(&c);
	if (at_end(&c))
		return stw_error("empty " HEADER);

	while (!at_end(&c)) {
		const char *scheme = c.s + c.pos;
		size_t scheme_len = skip_token(&c);

		if (!scheme_len) {
			syntax_error(&c, "expected an authentication scheme");
			goto out;
		}
		current.scheme = dup_lower(scheme, scheme_len);
		if (!current.scheme) {
			stw_error("out of memory");
			goto out;
		}
		if (parse_challenge_rest(&c, &current) < 0)
			goto out;
		if (!strcmp(current.scheme, "bearer"))
			keep_first(&bearer, &current);
		else if (!strcmp(current.scheme, "basic"))
			keep_first(&basic, &current);
		else
			auth_challenge_release(&current);
	}

	if (bearer.scheme) {
		*out = bearer;
		memset(&bearer, 0, sizeof(bearer));
	} else if (basic.scheme) {
		*out = basic;
		memset(&basic, 0, sizeof(basic));
	} else {
		stw_error(HEADER " offers neither Bearer nor Basic authentication");
		goto out;
	}
	ret = 0;
out:
	auth_challenge_release(&basic);
	auth_challenge_release(&bearer);
	auth_challenge_release(&current);
	return ret;
}

void auth_challenge_release(struct auth_challenge *c)
{
	if (!c)
		return;
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}
