/*
 * cmd_ca.c: userca init, root, intermediate, crl, publish.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_HOME = 256, O_ORG, O_BASE, O_INTER, O_PROFILE, O_ROOTCN, O_ISSCN,
	O_PASSF, O_OUT, O_ROOT, O_DAYS, O_IMPORT, O_CN, O_ENROLL, O_RUNWAY,
	O_HTTPLINKS, O_SMIME, O_HELP
};

#define INIT_USAGE "init --org NAME --base-url URL [--enroll-url URL] " \
	"[--allow-http-links] [--intermediate] [--smime] " \
	"[--profile compatible|modern] [--root-cn CN] [--issuing-cn CN] " \
	"[--passphrase-file F] [--home DIR]"

int
cmd_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "org", required_argument, NULL, O_ORG },
		{ "base-url", required_argument, NULL, O_BASE },
		{ "enroll-url", required_argument, NULL, O_ENROLL },
		{ "allow-http-links", no_argument, NULL, O_HTTPLINKS },
		{ "intermediate", no_argument, NULL, O_INTER },
		{ "smime", no_argument, NULL, O_SMIME },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "root-cn", required_argument, NULL, O_ROOTCN },
		{ "issuing-cn", required_argument, NULL, O_ISSCN },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct init_opts o;
	const char *home = NULL, *passfile = NULL;
	int c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_ORG: o.org = optarg; break;
		case O_BASE: o.base_url = optarg; break;
		case O_ENROLL: o.enroll_url = optarg; break;
		case O_HTTPLINKS: o.allow_http_links = 1; break;
		case O_INTER: o.intermediate = 1; break;
		case O_SMIME: o.smime = 1; break;
		case O_PROFILE: o.profile = optarg; break;
		case O_ROOTCN: o.root_cn = optarg; break;
		case O_ISSCN: o.issuing_cn = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_HELP:
			return cli_help(INIT_USAGE,
			    "Creates a CA home: the root CA (key encrypted at "
			    "rest with the passphrase,\nAES-256 PKCS#8, PBKDF2 "
			    "with 600,000 iterations, 0600), with --intermediate"
			    "\nan issuing CA signed by it, the records database, "
			    "the first CRLs and public/.\n\n"
			    "  --org NAME          organisation (subject O)\n"
			    "  --base-url URL      where gateways fetch CRLs "
			    "and CA (CRL DP, AIA)\n"
			    "  --enroll-url URL    where enrollment links point: "
			    "the daemon's HTTPS, e.g.\n"
			    "                      https://pki.example.com:8443 "
			    "(default: --base-url when\n"
			    "                      that is https; else token "
			    "and batch --tokens refuse)\n"
			    "  --allow-http-links  tests and labs only: allow "
			    "plain http enrollment links\n"
			    "                      (recorded in userca.conf)\n"
			    "  --intermediate      an issuing CA below the root "
			    "(recommended); its EKU is\n"
			    "                      clientAuth, serverAuth, "
			    "OCSPSigning: what it issues\n"
			    "  --smime             the issuing CA may issue "
			    "S/MIME too (EKU emailProtection;\n"
			    "                      on an offline root's home: "
			    "for 'root sign-intermediate')\n"
			    "  --profile P         compatible: RSA root 4096, "
			    "issuing 3072, users 2048\n"
			    "                      modern: EC P-384 root, "
			    "P-256 issuing and users\n"
			    "  --passphrase-file F root key passphrase "
			    "(else $USERCA_PASSPHRASE, else asked)\n"
			    "Refuses to overwrite an existing CA.\n");
		default:
			return cli_usage(INIT_USAGE);
		}
	}
	if (optind != argc || o.org == NULL || o.base_url == NULL)
		return cli_usage(INIT_USAGE);
	o.home = cli_home(home);
	if ((rc = authority_init(&o, cli_getpass,
	    (void *)(uintptr_t)passfile)) != UC_OK)
		return cli_fail(rc, "init");
	printf("created CA in %s (%s profile%s)\n", o.home,
	    o.profile != NULL ? o.profile : "compatible",
	    o.intermediate ? ", root + issuing CA" : ", root only");
	/*
	 * An --intermediate home is the one the daemon runs on; the root key
	 * is not needed there once the first CRLs are signed.
	 */
	fflush(stdout);
	if (o.intermediate)
		fprintf(stderr, "userca: warning: the root key %s/root/root.key "
		    "is on this host, which will issue\n"
		    "  day to day (and may run userca-enrolld) without it.  "
		    "Move it offline: copy\n"
		    "  %s to offline media (the root's home: 'crl --root', "
		    "'root sign-intermediate'),\n"
		    "  then delete root/root.key here; import root CRLs with "
		    "'crl --import-root'.\n"
		    "  README: \"Moving the root key offline\".\n", o.home,
		    o.home);
	return 0;
}

#define ROOT_USAGE "root sign-intermediate REQ.csr --out CA.crt [--cn CN] " \
	"[--passphrase-file F] [--home DIR]"

int
cmd_root(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "out", required_argument, NULL, O_OUT },
		{ "cn", required_argument, NULL, O_CN },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL, *passfile = NULL, *out = NULL, *cn = NULL;
	unsigned char *csr = NULL, *pem = NULL;
	size_t csrlen, pemlen;
	int c, rc, ex;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_OUT: out = optarg; break;
		case O_CN: cn = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_HELP:
			return cli_help(ROOT_USAGE,
			    "On the offline host: signs an issuing CA's request "
			    "(made with 'userca\nintermediate request' on the "
			    "online host) with the root key, records it,\nand "
			    "writes the certificate to --out.  Carry CA.crt and "
			    "root/root.crt back.\n"
			    "The issuing CA's EKU is clientAuth, serverAuth, "
			    "OCSPSigning, and emailProtection\nwhen this root's "
			    "home was made with 'init --smime'.\n");
		default:
			return cli_usage(ROOT_USAGE);
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "sign-intermediate") !=
	    0 || out == NULL)
		return cli_usage(ROOT_USAGE);
	if ((rc = file_read(argv[optind + 1], 64 * 1024, &csr, &csrlen)) !=
	    UC_OK)
		return cli_fail(rc, "reading the request");
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0) {
		free(csr);
		return ex;
	}
	if ((rc = authority_sign_intermediate(a, csr, csrlen, cn, &pem,
	    &pemlen)) != UC_OK) {
		ex = cli_fail(rc, argv[optind + 1]);
		goto out;
	}
	if ((rc = file_write_atomic(out, pem, pemlen, 0644)) != UC_OK) {
		ex = cli_fail(rc, "writing the certificate");
		goto out;
	}
	printf("signed %s -> %s\n", argv[optind + 1], out);
	ex = 0;
out:
	free(csr);
	free(pem);
	authority_free(a);
	return ex;
}

#define INTER_USAGE "intermediate request --org NAME --base-url URL " \
	"[--enroll-url URL] [--allow-http-links] [--smime] [--profile P] " \
	"[--issuing-cn CN] --out REQ.csr [--home DIR]\n" \
	"       userca intermediate install CA.crt --root ROOT.crt [--home DIR]"

int
cmd_intermediate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "org", required_argument, NULL, O_ORG },
		{ "base-url", required_argument, NULL, O_BASE },
		{ "enroll-url", required_argument, NULL, O_ENROLL },
		{ "allow-http-links", no_argument, NULL, O_HTTPLINKS },
		{ "smime", no_argument, NULL, O_SMIME },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "issuing-cn", required_argument, NULL, O_ISSCN },
		{ "out", required_argument, NULL, O_OUT },
		{ "root", required_argument, NULL, O_ROOT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct init_opts o;
	const char *home = NULL, *out = NULL, *root = NULL;
	unsigned char *csr = NULL, *ca = NULL, *rt = NULL;
	size_t len, calen, rtlen;
	int c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_ORG: o.org = optarg; break;
		case O_BASE: o.base_url = optarg; break;
		case O_ENROLL: o.enroll_url = optarg; break;
		case O_HTTPLINKS: o.allow_http_links = 1; break;
		case O_SMIME: o.smime = 1; break;
		case O_PROFILE: o.profile = optarg; break;
		case O_ISSCN: o.issuing_cn = optarg; break;
		case O_OUT: out = optarg; break;
		case O_ROOT: root = optarg; break;
		case O_HELP:
			return cli_help(INTER_USAGE,
			    "The online host's half of the air-gapped set-up.\n"
			    "  request  creates a new home with an issuing key "
			    "and writes its CSR;\n"
			    "           carry REQ.csr to the offline host "
			    "('userca root sign-intermediate').\n"
			    "           --enroll-url, --allow-http-links and "
			    "--smime as for 'userca init'\n"
			    "           (the EKU of the issuing CA is the offline "
			    "root home's choice).\n"
			    "  install  checks that CA.crt matches the issuing "
			    "key and chains to\n"
			    "           ROOT.crt, installs both, creates the "
			    "records and the first CRL.\n");
		default:
			return cli_usage(INTER_USAGE);
		}
	}
	o.home = cli_home(home);
	if (argc - optind == 1 && strcmp(argv[optind], "request") == 0) {
		if (out == NULL || o.org == NULL || o.base_url == NULL)
			return cli_usage(INTER_USAGE);
		if ((rc = authority_intermediate_request(&o, &csr, &len)) !=
		    UC_OK)
			return cli_fail(rc, "intermediate request");
		rc = file_write_atomic(out, csr, len, 0644);
		free(csr);
		if (rc != UC_OK)
			return cli_fail(rc, "writing the request");
		printf("issuing key in %s/issuing/ca.key; request written to "
		    "%s\n", o.home, out);
		return 0;
	}
	if (argc - optind == 2 && strcmp(argv[optind], "install") == 0) {
		if (root == NULL)
			return cli_usage(INTER_USAGE);
		if ((rc = file_read(argv[optind + 1], 256 * 1024, &ca,
		    &calen)) != UC_OK)
			return cli_fail(rc, "reading the CA certificate");
		if ((rc = file_read(root, 256 * 1024, &rt, &rtlen)) != UC_OK) {
			free(ca);
			return cli_fail(rc, "reading the root certificate");
		}
		rc = authority_intermediate_install(o.home, ca, calen, rt,
		    rtlen);
		free(ca);
		free(rt);
		if (rc != UC_OK)
			return cli_fail(rc, "intermediate install");
		printf("issuing CA installed in %s\n", o.home);
		return 0;
	}
	return cli_usage(INTER_USAGE);
}

#define CRL_USAGE "crl [--root [--runway N [--out FILE]]] [--days N] " \
	"[--import-root FILE] " \
	"[--passphrase-file F] [--home DIR]"

int
cmd_crl(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "root", no_argument, NULL, O_ROOT },
		{ "days", required_argument, NULL, O_DAYS },
		{ "import-root", required_argument, NULL, O_IMPORT },
		{ "runway", required_argument, NULL, O_RUNWAY },
		{ "out", required_argument, NULL, O_OUT },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL, *passfile = NULL, *import = NULL;
	const char *out = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int days = 0, runway = 0;
	int c, rc, ex, root = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_ROOT: root = 1; break;
		case O_DAYS:
			if (!parse_int(optarg, 1, 3650, &days))
				return cli_usage(CRL_USAGE);
			break;
		case O_IMPORT: import = optarg; break;
		case O_RUNWAY:
			if (!parse_int(optarg, 1, 100, &runway))
				return cli_usage(CRL_USAGE);
			break;
		case O_OUT: out = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_HELP:
			return cli_help(CRL_USAGE,
			    "Re-signs the issuing CA's CRL (its number always "
			    "goes up) and publishes it.\n"
			    "  --root         also re-sign the root's CRL (needs "
			    "the root passphrase)\n"
			    "  --days N       validity (nextUpdate); default "
			    "from userca.conf\n"
			    "  --import-root F  on an online home: install a "
			    "root CRL (or a runway of them)\n"
			    "                 signed offline\n"
			    "  --root --runway N  at a key ceremony: pre-sign N "
			    "root CRLs, CRL k in force\n"
			    "                 from now + k periods (--days, "
			    "default root_crl_days) to\n"
			    "                 one period later plus an overlap; "
			    "publish and the daemon\n"
			    "                 serve the one in force.  --out "
			    "FILE writes them all (PEM)\n"
			    "                 for 'crl --import-root' on the "
			    "online home.\n");
		default:
			return cli_usage(CRL_USAGE);
		}
	}
	if (optind != argc || (runway > 0 && !root) || (out != NULL &&
	    runway == 0))
		return cli_usage(CRL_USAGE);
	if ((ex = cli_open(cli_home(home), passfile, &a)) != 0)
		return ex;
	if (runway > 0) {
		if ((rc = authority_crl_runway(a, runway, days, &buf,
		    &len)) != UC_OK)
			ex = cli_fail(rc, "runway");
		else if (out != NULL && (rc = file_write_atomic(out, buf, len,
		    0644)) != UC_OK)
			ex = cli_fail(rc, out);
		else
			printf("%d root CRLs signed and recorded; the one in "
			    "force is published%s%s\n", runway,
			    out != NULL ? "; all written to " : "",
			    out != NULL ? out : "");
	} else if (import != NULL) {
		if ((rc = file_read(import, 64 * 1024 * 1024, &buf, &len)) !=
		    UC_OK || (rc = authority_import_root_crl(a, buf, len)) !=
		    UC_OK)
			ex = cli_fail(rc, import);
		else
			printf("root CRL imported and published\n");
	} else if ((rc = authority_crl(a, root, days)) != UC_OK)
		ex = cli_fail(rc, "crl");
	else
		printf("CRL%s signed and published\n", root ? "s" : "");
	free(buf);
	authority_free(a);
	return ex;
}

#define PUBLISH_USAGE "publish [--home DIR]"

int
cmd_publish(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL;
	int c, rc, ex;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_HELP:
			return cli_help(PUBLISH_USAGE,
			    "Writes HOME/public/, each file replaced atomically:"
			    "\n  ca-bundle.pem  issuing CA then root (PEM)\n"
			    "  ca.crt         issuing CA (DER)\n"
			    "  crl.der, crl.pem  the issuing CA's newest CRL\n"
			    "  root.crl       the root's newest CRL (DER)\n"
			    "  ca.json        subjects, SHA-1 and SHA-256 "
			    "fingerprints, notAfter, URLs\n");
		default:
			return cli_usage(PUBLISH_USAGE);
		}
	}
	if (optind != argc)
		return cli_usage(PUBLISH_USAGE);
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	if ((rc = authority_publish(a)) != UC_OK)
		ex = cli_fail(rc, "publish");
	else
		printf("published to %s/public\n", cli_home(home));
	authority_free(a);
	return ex;
}
