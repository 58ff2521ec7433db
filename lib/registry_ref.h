/* Image references as Docker writes them: [HOST[:PORT]/]REPO[:TAG][@DIGEST].
 * A first component with a '.' or ':' or "localhost" is a host; otherwise
 * the host is docker.io and a one-part name gets "library/". */
#ifndef STW_LIB_REGISTRY_REF_H
#define STW_LIB_REGISTRY_REF_H

struct registry_ref {
	char *host;   /* "127.0.0.1:5000", "docker.io" */
	char *repo;   /* "team/fd" */
	char *tag;    /* NULL when absent */
	char *digest; /* NULL when absent */
};

int registry_ref_parse(struct registry_ref *out, const char *text);
void registry_ref_release(struct registry_ref *r);
/* The host the API is served from (docker.io -> registry-1.docker.io). */
const char *registry_api_host(const char *host);
/* True for 127.0.0.0/8, ::1 and localhost (with any port). */
int registry_host_is_loopback(const char *host);
int registry_tag_valid(const char *tag);

#endif
