/*
 * The WWW-Authenticate header of a registry's 401 (RFC 7235 section 4.1):
 * one or more challenges, each a scheme and then a token68 or a list of
 * name=value parameters (token or quoted-string). The header comes from
 * the network, so parsing is a single bounded pass over at most
 * AUTH_HEADER_MAX bytes. An auth_challenge owns its strings;
 * auth_challenge_release frees them.
 */
#ifndef STW_LIB_WWW_AUTHENTICATE_H
#define STW_LIB_WWW_AUTHENTICATE_H

/* Longer headers are refused rather than parsed. */
#define AUTH_HEADER_MAX (16 * 1024)

struct auth_challenge {
	char *scheme;  /* lowercased: "basic", "bearer", ... */
	char *realm, *service, *scope, *error; /* NULL when absent */
};

/*
 * Parses the header; picks the first Bearer challenge, else the first Basic
 * one. Fails (stw_error naming the header) on malformed input or when
 * neither is offered. Several WWW-Authenticate header lines of one response
 * may be joined with ", " and parsed as one. Scheme and parameter names are
 * case-insensitive; values keep their case, quoted-string escapes removed.
 * Leniencies: spaces, tabs, CR and LF count as whitespace, empty list
 * elements (",,") are skipped, and an unquoted value may hold any visible
 * ASCII except '"', ',' and '\' (so realm=https://x/token parses). Stricter
 * than needed: a repeated realm/service/scope/error in one challenge is an
 * error. On failure *out is left empty (release is harmless).
 */
int auth_challenge_parse(struct auth_challenge *out, const char *header);
void auth_challenge_release(struct auth_challenge *c);

#endif
