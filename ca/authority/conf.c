/*
 * conf.c: userca.conf, the CA home's settings (INI, read with inih).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "core.h"

void
conf_defaults(struct ca_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->root_days = 20 * 365;
	c->issuing_days = 10 * 365;
	c->user_days = 365;
	c->server_days = 397;
	c->crl_days = 7;
	c->root_crl_days = 180;
	c->token_ttl = 7 * 86400;
	c->ocsp_days = 7;
	c->ocsp_next_update = 3600;
	c->ocsp_max_age = 60;
	c->renew_window = 30 * 86400;
}

void
conf_clear(struct ca_conf *c)
{
	free(c->org);
	free(c->base_url);
	free(c->enroll_url);
	free(c->profile);
	free(c->root_cn);
	free(c->issuing_cn);
	free(c->iis_domain);
	free(c->eas_host);
	free(c->eas_domain);
	free(c->ocsp_url);
	free(c->renew_admin);
	free(c->renew_sendmail);
	free(c->renew_from);
	memset(c, 0, sizeof(*c));
}

struct parse {
	struct ca_conf	*c;
	char		 err[256];
};

static int
set_str(char **dst, const char *v)
{
	free(*dst);
	return (*dst = strdup(v)) != NULL;
}

/*
 * The DOMAIN of DOMAIN\user: a NetBIOS or DNS domain name, letters,
 * digits, '-', '_' and '.', which also keeps it safe inside the quoted
 * strings of the generated PowerShell.
 */
static int
set_domain(char **dst, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 63 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
		return 0;
	return set_str(dst, v);
}

/* A host name, IPv4 or [IPv6] address, with an optional :port. */
static int
set_host(char **dst, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 253 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-.:[]") != n)
		return 0;
	return set_str(dst, v);
}

/* true/false, yes/no, on/off, 1/0. */
static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return 0;
	return 1;
}

/* [ca]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_ca(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "org") == 0)
		return set_str(&c->org, value);
	else if (strcmp(name, "base_url") == 0)
		return set_str(&c->base_url, value);
	else if (strcmp(name, "enroll_url") == 0)
		return set_str(&c->enroll_url, value);
	else if (strcmp(name, "profile") == 0)
		return set_str(&c->profile, value);
	else if (strcmp(name, "root_cn") == 0)
		return set_str(&c->root_cn, value);
	else if (strcmp(name, "issuing_cn") == 0)
		return set_str(&c->issuing_cn, value);
	else if (strcmp(name, "intermediate") == 0)
		return parse_int(value, 0, 1, &c->intermediate);
	else if (strcmp(name, "allow_http_links") == 0)
		return parse_int(value, 0, 1, &c->allow_http_links);
	else if (strcmp(name, "smime") == 0)
		return parse_int(value, 0, 1, &c->smime);
	else
		return -1;
}

/* [iis]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_iis(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "domain") == 0)
		return set_domain(&c->iis_domain, value);
	else
		return -1;
}

/* [eas]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_eas(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "host") == 0)
		return set_host(&c->eas_host, value);
	else if (strcmp(name, "domain") == 0)
		return set_domain(&c->eas_domain, value);
	else
		return -1;
}

/* [validity]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_validity(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "root_days") == 0)
		return parse_int(value, 1, 36500, &c->root_days);
	else if (strcmp(name, "issuing_days") == 0)
		return parse_int(value, 1, 36500, &c->issuing_days);
	else if (strcmp(name, "user_days") == 0)
		return parse_int(value, 1, 3650, &c->user_days);
	else if (strcmp(name, "server_days") == 0)
		return parse_int(value, 1, 3650, &c->server_days);
	else if (strcmp(name, "crl_days") == 0)
		return parse_int(value, 1, 366, &c->crl_days);
	else if (strcmp(name, "root_crl_days") == 0)
		return parse_int(value, 1, 3650, &c->root_crl_days);
	else if (strcmp(name, "token_ttl") == 0)
		return parse_int(value, 60, 366 * 86400, &c->token_ttl);
	else
		return -1;
}

/* [ocsp]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_ocsp(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "url") == 0)
		return set_str(&c->ocsp_url, value);
	else if (strcmp(name, "responder_days") == 0)
		return parse_int(value, 1, 90, &c->ocsp_days);
	else if (strcmp(name, "next_update") == 0)
		return parse_duration(value, &c->ocsp_next_update) &&
		    c->ocsp_next_update >= 60 &&
		    c->ocsp_next_update <= 7 * 86400;
	else if (strcmp(name, "max_age") == 0)
		return parse_duration(value, &c->ocsp_max_age) &&
		    c->ocsp_max_age <= 3600;
	else
		return -1;
}

/* [renew]: 1 set, 0 a bad value, -1 no such setting. */
static int
conf_renew(struct ca_conf *c, const char *name, const char *value)
{
	if (strcmp(name, "revoke_old") == 0)
		return parse_bool(value, &c->renew_revoke_old);
	else if (strcmp(name, "refuse_early") == 0)
		return parse_bool(value, &c->renew_refuse_early);
	else if (strcmp(name, "window") == 0)
		return parse_duration(value, &c->renew_window) &&
		    c->renew_window >= 86400 &&
		    c->renew_window <= 366 * 86400;
	else if (strcmp(name, "admin") == 0)
		return set_str(&c->renew_admin, value);
	else if (strcmp(name, "sendmail") == 0)
		return value[0] == '/' && set_str(&c->renew_sendmail,
		    value);
	else if (strcmp(name, "from") == 0)
		return set_str(&c->renew_from, value);
	else
		return -1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	static const struct {
		const char	*name;
		int		(*set)(struct ca_conf *, const char *,
				    const char *);
	} sections[] = {
		{ "ca", conf_ca }, { "iis", conf_iis }, { "eas", conf_eas },
		{ "validity", conf_validity }, { "ocsp", conf_ocsp },
		{ "renew", conf_renew },
	};
	struct parse *p = user;
	size_t i;
	int ok = -1;

	/* inih reports the first bad line: keep that line's message. */
	if (p->err[0] != '\0')
		return 1;
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(section, sections[i].name) == 0) {
			ok = sections[i].set(p->c, name, value);
			break;
		}
	if (ok < 0) {
		snprintf(p->err, sizeof(p->err), "unknown setting [%s] %s",
		    section, name);
		return 0;
	}
	if (!ok)
		snprintf(p->err, sizeof(p->err), "[%s] %s: bad value '%.60s'",
		    section, name, value);
	return ok;
}

int
conf_load(const char *path, struct ca_conf *c)
{
	struct parse p;
	int line;

	conf_defaults(c);
	memset(&p, 0, sizeof(p));
	p.c = c;
	if ((line = ini_parse(path, handler, &p)) != 0) {
		conf_clear(c);
		if (line == -1)
			return uc_seterr(UC_E_NOTFOUND, "%s: %s", path,
			    strerror(errno));
		if (line < 0)
			return uc_seterr(UC_E_INTERNAL, "%s: out of memory",
			    path);
		return uc_seterr(UC_E_INVALID, "%s:%d: %s", path, line,
		    p.err[0] != '\0' ? p.err : "syntax error");
	}
	if (c->org == NULL || c->base_url == NULL) {
		conf_clear(c);
		return uc_seterr(UC_E_INVALID, "%s: [ca] org and base_url are "
		    "required", path);
	}
	if (c->profile == NULL && !set_str(&c->profile, "compatible")) {
		conf_clear(c);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	return UC_OK;
}

int
conf_save(const char *path, const struct ca_conf *c)
{
	char buf[4096], eu[1100];
	int n;

	/* No enrollment URL: no line (an empty value would be a URL). */
	eu[0] = '\0';
	if (c->enroll_url != NULL)
		snprintf(eu, sizeof(eu), "enroll_url = %s\n", c->enroll_url);
	n = snprintf(buf, sizeof(buf),
	    "; userca CA home settings (written by userca init)\n"
	    "[ca]\n"
	    "org = %s\n"
	    "base_url = %s\n"
	    "%s"
	    "profile = %s\n"
	    "root_cn = %s\n"
	    "issuing_cn = %s\n"
	    "intermediate = %d\n"
	    "; 1: enrollment links may be plain http (tests and labs only)\n"
	    "allow_http_links = %d\n"
	    "; 1: the issuing CA may issue S/MIME (EKU emailProtection)\n"
	    "smime = %d\n"
	    "\n[validity]\n"
	    "root_days = %d\n"
	    "issuing_days = %d\n"
	    "user_days = %d\n"
	    "server_days = %d\n"
	    "crl_days = %d\n"
	    "root_crl_days = %d\n"
	    "token_ttl = %d\n",
	    c->org, c->base_url, eu, c->profile, c->root_cn, c->issuing_cn,
	    c->intermediate, c->allow_http_links, c->smime, c->root_days, c->issuing_days, c->user_days,
	    c->server_days, c->crl_days, c->root_crl_days, c->token_ttl);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return uc_seterr(UC_E_INVALID, "settings too long");
	return file_write_excl(path, buf, (size_t)n, 0644);
}
