/*
 * config.c: userca-enrolld's INI file, read with inih.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <ini.h>

#include "enrolld.h"

#ifndef USERCA_WEB_DIR
#define USERCA_WEB_DIR	"/usr/share/userca/web"
#endif

int
parse_size(const char *s, size_t *bytes)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return 0;
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	default: break;
	}
	if (*end != '\0' || v == 0 || v > 64ULL * 1024 * 1024)
		return 0;
	*bytes = (size_t)v;
	return 1;
}

struct cparse {
	struct econf	*c;
	char		 err[200];
};

static int
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = NULL;
	if (v[0] == '\0')
		return 1;	/* empty: off */
	return (*dst = strdup(v)) != NULL;
}

static int
set_bool(int *dst, const char *v)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0)
		*dst = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "0") == 0)
		*dst = 0;
	else
		return 0;
	return 1;
}

/* A GnuTLS priority string GnuTLS accepts; else err says where it broke. */
static int
check_priorities(const char *v, char *err, size_t len)
{
	gnutls_priority_t pc;
	const char *pos = NULL;
	int rc;

	if ((rc = gnutls_priority_init(&pc, v, &pos)) != GNUTLS_E_SUCCESS) {
		snprintf(err, len, "[https] priorities: %s at '%.40s'",
		    gnutls_strerror(rc), pos != NULL ? pos : v);
		return 0;
	}
	gnutls_priority_deinit(pc);
	return 1;
}

#define IS(s, n)	(strcmp(section, s) == 0 && strcmp(name, n) == 0)

static int
handler(void *user, const char *section, const char *name, const char *v)
{
	struct cparse *p = user;
	struct econf *c = p->c;
	int ok;

	/* inih reports the first bad line: keep that line's message. */
	if (p->err[0] != '\0')
		return 1;
	if (IS("ca", "home"))
		ok = set_str(&c->home, v);
	else if (IS("http", "listen"))
		ok = set_str(&c->http_listen, v);
	else if (IS("https", "listen"))
		ok = set_str(&c->https_listen, v);
	else if (IS("https", "cert"))
		ok = set_str(&c->tls_cert, v);
	else if (IS("https", "key"))
		ok = set_str(&c->tls_key, v);
	else if (IS("https", "priorities")) {
		if (!check_priorities(v, p->err, sizeof(p->err)))
			return 0;
		ok = set_str(&c->tls_priorities, v);
	}
	else if (IS("enroll", "smime"))
		ok = set_bool(&c->smime, v);
	else if (IS("enroll", "allow_plain_http"))
		ok = set_bool(&c->allow_plain_http, v);
	else if (IS("scep", "allow_des"))
		ok = set_bool(&c->scep_allow_des, v);
	else if (IS("est", "listen"))
		ok = set_str(&c->est_listen, v);
	else if (IS("enroll", "token_ttl"))
		ok = parse_duration(v, &c->token_ttl) && c->token_ttl >= 60;
	else if (IS("enroll", "retry_window"))
		ok = parse_duration(v, &c->retry_window) &&
		    c->retry_window >= 0 && c->retry_window <= 86400;
	else if (IS("enroll", "web_root"))
		ok = set_str(&c->web_root, v);
	else if (IS("enroll", "default_p12_format"))
		ok = (strcmp(v, "legacy") == 0 || strcmp(v, "modern") == 0) &&
		    set_str(&c->default_p12_format, v);
	else if (IS("crl", "validity"))
		ok = parse_duration(v, &c->crl_validity) &&
		    c->crl_validity >= 3600;
	else if (IS("crl", "refresh_before"))
		ok = parse_duration(v, &c->refresh_before);
	else if (IS("crl", "poll"))
		ok = parse_duration(v, &c->poll) && c->poll >= 1;
	else if (IS("ca", "issuing_warn_before"))
		ok = parse_duration(v, &c->issuing_warn_before);
	else if (IS("crl", "root_warn_before"))
		ok = parse_duration(v, &c->root_warn_before);
	else if (IS("crl", "runway_min"))
		ok = parse_int(v, 0, 100, &c->runway_min);
	else if (IS("limits", "max_body"))
		ok = parse_size(v, &c->max_body);
	else if (IS("limits", "max_connections"))
		ok = parse_int(v, 1, 65536, &c->max_connections);
	else if (IS("limits", "timeout"))
		ok = parse_duration(v, &c->timeout) && c->timeout >= 1;
	else if (IS("limits", "request_timeout"))
		ok = parse_duration(v, &c->request_timeout) &&
		    c->request_timeout >= 1;
	else if (IS("limits", "per_address"))
		ok = parse_int(v, 1, 65536, &c->per_address);
	else if (IS("limits", "rate_limit"))
		ok = parse_int(v, 1, 1000000, &c->rate_limit);
	else if (IS("limits", "drain"))
		ok = parse_duration(v, &c->drain);
	else if (IS("daemon", "user"))
		ok = v[0] != '\0' && set_str(&c->user, v);
	else {
		snprintf(p->err, sizeof(p->err), "unknown setting [%s] %s",
		    section, name);
		return 0;
	}
	if (!ok)
		snprintf(p->err, sizeof(p->err), "[%s] %s: bad value '%.60s'",
		    section, name, v);
	return ok;
}

int
econf_load(const char *path, struct econf *c)
{
	struct cparse p;
	int line;

	memset(c, 0, sizeof(*c));
	c->token_ttl = 7 * 86400;
	c->retry_window = 15 * 60;
	c->crl_validity = 7 * 86400;
	c->refresh_before = 3 * 86400;
	c->poll = 5;
	c->root_warn_before = 30 * 86400;
	c->issuing_warn_before = 90 * 86400;
	c->max_body = 64 * 1024;
	c->max_connections = 1024;
	c->timeout = 30;
	/* A 64 KiB body arrives in well under a second on any phone link. */
	c->request_timeout = 10;
	/* A NAT of many gateways or devices, not a thousand sockets. */
	c->per_address = 32;
	c->rate_limit = 10;
	c->drain = 10;
	memset(&p, 0, sizeof(p));
	p.c = c;
	if ((line = ini_parse(path, handler, &p)) != 0) {
		econf_clear(c);
		if (line == -1)
			return uc_seterr(UC_E_NOTFOUND, "%s: %s", path,
			    strerror(errno));
		if (line < 0)
			return uc_seterr(UC_E_INTERNAL, "%s: out of memory",
			    path);
		return uc_seterr(UC_E_INVALID, "%s:%d: %s", path, line,
		    p.err[0] ? p.err : "syntax error");
	}
	if ((c->path = strdup(path)) == NULL ||
	    (c->web_root == NULL &&
	    (c->web_root = strdup(USERCA_WEB_DIR)) == NULL) ||
	    (c->default_p12_format == NULL &&
	    (c->default_p12_format = strdup("legacy")) == NULL) ||
	    (c->tls_priorities == NULL &&
	    (c->tls_priorities = strdup(ECONF_TLS_PRIORITIES)) == NULL)) {
		econf_clear(c);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	if (c->home == NULL) {
		econf_clear(c);
		return uc_seterr(UC_E_INVALID, "%s: [ca] home is required",
		    path);
	}
	if (c->http_listen == NULL && c->https_listen == NULL) {
		econf_clear(c);
		return uc_seterr(UC_E_INVALID, "%s: neither [http] listen nor "
		    "[https] listen is set", path);
	}
	if ((c->https_listen != NULL || c->est_listen != NULL) &&
	    (c->tls_cert == NULL ||
	    c->tls_key == NULL)) {
		econf_clear(c);
		return uc_seterr(UC_E_INVALID, "%s: [https] (and [est]) needs "
		    "cert and key "
		    "(make them with 'userca issue-server')", path);
	}
	if (c->refresh_before >= c->crl_validity) {
		econf_clear(c);
		return uc_seterr(UC_E_INVALID, "%s: [crl] refresh_before must "
		    "be shorter than validity", path);
	}
	return UC_OK;
}

void
econf_clear(struct econf *c)
{
	free(c->path);
	free(c->home);
	free(c->http_listen);
	free(c->https_listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_priorities);
	free(c->est_listen);
	free(c->web_root);
	free(c->default_p12_format);
	free(c->user);
	memset(c, 0, sizeof(*c));
}
