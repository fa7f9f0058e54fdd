/*
 * conf.h: userca.conf, the CA home's settings (INI).  A plain value type
 * with its reader and writer; it knows nothing of the authority that
 * uses it.  Strings in struct ca_conf are owned by it (conf_clear()).
 */
#ifndef UC_CONF_H
#define UC_CONF_H

struct ca_conf {
	char	*org;
	char	*base_url;
	char	*enroll_url;	/* where enrollment links point; NULL: none
				 * (base_url with allow_http_links) */
	char	*profile;
	char	*root_cn;
	char	*issuing_cn;
	int	 intermediate;	/* issuing CA distinct from the root */
	int	 allow_http_links; /* tests and labs: http enrollment links */
	int	 smime;		/* the issuing CA may issue S/MIME */
	int	 root_days;
	int	 issuing_days;
	int	 user_days;
	int	 server_days;
	int	 crl_days;
	int	 root_crl_days;
	int	 token_ttl;	/* seconds */
	/* [iis] */
	char	*iis_domain;	/* DOMAIN of DOMAIN\user for users without a
				 * UPN; NULL: none */
	/* [eas]: Exchange ActiveSync in Apple identity profiles */
	char	*eas_host;	/* NULL: no EAS payload */
	char	*eas_domain;	/* DOMAIN of DOMAIN\user for users without a
				 * UPN; NULL: the username alone */
	/* [ocsp] */
	char	*ocsp_url;	/* AIA OCSP; NULL: <base_url>/ocsp; "off" */
	int	 ocsp_days;	/* the responder certificate's validity */
	int	 ocsp_next_update; /* seconds from thisUpdate */
	int	 ocsp_max_age;	/* seconds a cacheable answer may be kept */
	/* [renew]: renew and notify, every door (flags override one run) */
	int	 renew_revoke_old; /* revoke the old certificate at once */
	int	 renew_window;	/* seconds before expiry: renew --expiring */
	int	 renew_refuse_early; /* SCEP/EST renewals only within window */
	char	*renew_admin;	/* notify's summary to; NULL: none */
	char	*renew_sendmail; /* notify's sendmail(8); NULL: /usr/sbin/sendmail */
	char	*renew_from;	/* notify's From:; NULL: the sendmail's own */
};

/* Defaults for every field (strings NULL). */
void	conf_defaults(struct ca_conf *c);
/* Read path over the defaults; UC_E_INVALID naming the bad line. */
int	conf_load(const char *path, struct ca_conf *c);
/* Write c to a new file at path (exclusive create, 0644). */
int	conf_save(const char *path, const struct ca_conf *c);
void	conf_clear(struct ca_conf *c);

#endif /* UC_CONF_H */
