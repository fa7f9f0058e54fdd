/*
 * cmd_ca.c: userca init, root, intermediate, crl, publish.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_HOME = 256, O_ORG, O_BASE, O_INTER, O_PROFILE, O_ROOTCN, O_ISSCN,
	O_PASSF, O_OUT, O_ROOT, O_DAYS, O_IMPORT, O_CN, O_ENROLL, O_RUNWAY,
	O_HTTPLINKS, O_SMIME, O_JSON, O_FORCE, O_HELP
};

/* A URL without its trailing '/': <base>/crl.der is built from it. */
static char *
url_trim(const char *u)
{
	char *s;
	size_t n;

	if ((s = strdup(u)) == NULL)
		return NULL;
	for (n = strlen(s); n > 0 && s[n - 1] == '/'; n--)
		s[n - 1] = '\0';
	return s;
}

/* SHA-256 of a CA certificate as "AB:CD:..." (what Windows shows). */
static char *
fp_colons(X509 *x)
{
	char *hex, *out;
	size_t i, n;

	if (x == NULL || (hex = cert_fingerprint(x, EVP_sha256())) == NULL)
		return NULL;
	n = strlen(hex);
	if ((out = malloc(n / 2 * 3 + 1)) != NULL) {
		for (i = 0; i < n / 2; i++) {
			out[i * 3] = (char)toupper((unsigned char)hex[i * 2]);
			out[i * 3 + 1] = (char)toupper((unsigned char)
			    hex[i * 2 + 1]);
			out[i * 3 + 2] = i + 1 < n / 2 ? ':' : '\0';
		}
		if (n == 0)
			out[0] = '\0';
	}
	free(hex);
	return out;
}

#define INIT_EXAMPLES \
	"  userca init --home /var/lib/userca --org 'Example Ltd' \\\n" \
	"      --base-url http://pki.example.com:8080 \\\n" \
	"      --enroll-url https://pki.example.com:8443 --intermediate\n" \
	"  USERCA_PASSPHRASE=... userca init --org Lab --base-url " \
	"http://10.0.0.5:8080 --json\n"
#define INIT_HELP \
	"Creates a CA home: the root CA (key encrypted at " \
	"rest with the passphrase,\nAES-256 PKCS#8, PBKDF2 " \
	"with 600,000 iterations, 0600), with --intermediate" \
	"\nan issuing CA signed by it, the records database, " \
	"the first CRLs and public/.\n\n" \
	"  --org NAME          organisation (subject O)\n" \
	"  --base-url URL      where gateways fetch CRLs " \
	"and CA (CRL DP, AIA): plain\n" \
	"                      http, e.g. " \
	"http://pki.example.com:8080 (Windows does\n" \
	"                      not fetch CRLs over https)\n" \
	"  --enroll-url URL    where enrollment links point: " \
	"the daemon's HTTPS, e.g.\n" \
	"                      https://pki.example.com:8443 " \
	"(default: --base-url when\n" \
	"                      that is https; else token " \
	"and batch --tokens refuse)\n" \
	"  --allow-http-links  tests and labs only: allow " \
	"plain http enrollment links\n" \
	"                      (recorded in userca.conf)\n" \
	"  --intermediate      an issuing CA below the root " \
	"(recommended); its EKU is\n" \
	"                      clientAuth, serverAuth, " \
	"OCSPSigning: what it issues\n" \
	"  --smime             the issuing CA may issue " \
	"S/MIME too (EKU emailProtection;\n" \
	"                      on an offline root's home: " \
	"for 'root sign-intermediate')\n" \
	"  --profile P         compatible: RSA root 4096, " \
	"issuing 3072, users 2048\n" \
	"                      modern: EC P-384 root, " \
	"P-256 issuing and users\n" \
	"  --passphrase-file F root key passphrase " \
	"(else $USERCA_PASSPHRASE, else asked)\n" \
	"Refuses to overwrite an existing CA.  Prints the " \
	"SHA-256 fingerprints of the\nroot and issuing CA " \
	"(compare them with what Windows shows) and what to " \
	"do next.\n"

#define INIT_USAGE "init --org NAME --base-url URL [--enroll-url URL] " \
	"[--allow-http-links] [--intermediate] [--smime] " \
	"[--profile compatible|modern] [--root-cn CN] [--issuing-cn CN] " \
	"[--passphrase-file F] [--home DIR]"

/* What init made and what to do next (rfp, ifp: fingerprints or NULL). */
static void
init_report(const struct init_opts *o, const char *base, const char *rfp,
    const char *ifp)
{
	printf("created CA in %s (%s profile%s)\n", o->home,
	    o->profile != NULL ? o->profile : "compatible",
	    o->intermediate ? ", root + issuing CA" : ", root only");
	if (rfp != NULL)
		printf("root CA SHA-256:    %s\n", rfp);
	if (ifp != NULL && o->intermediate)
		printf("issuing CA SHA-256: %s\n", ifp);
	printf("\nNext:\n"
	    "  userca issue-server --home %s --dns pki.example.com "
	    "--out /etc/userca\n"
	    "  userca batch --home %s users.csv --out ./out\n"
	    "  userca publish --home %s   (then serve %s/public at %s)\n",
	    o->home, o->home, o->home, o->home, base);
	/*
	 * An --intermediate home is the one the daemon runs on; the root key
	 * is not needed there once the first CRLs are signed.
	 */
	fflush(stdout);
	if (o->intermediate)
		fprintf(stderr, "userca: warning: the root key %s/root/root.key "
		    "is on this host, which will issue\n"
		    "  day to day (and may run userca-enrolld) without it.  "
		    "Move it offline: copy\n"
		    "  %s to offline media (the root's home: 'crl --root', "
		    "'root sign-intermediate'),\n"
		    "  then delete root/root.key here; import root CRLs with "
		    "'crl --import-root'.\n"
		    "  README: \"Moving the root key offline\".\n", o->home,
		    o->home);
}

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
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct init_opts o;
	struct authority *a = NULL;
	const char *home = NULL, *passfile = NULL;
	char *base = NULL, *enroll = NULL, *rfp = NULL, *ifp = NULL;
	int c, rc, ex = 1, json = 0;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
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
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(INIT_USAGE, INIT_EXAMPLES,
			    INIT_HELP);
		default:
			return cli_badopt(c, argv, lo, INIT_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "init takes no "
		    "arguments; options start with --", INIT_USAGE);
	if (o.org == NULL)
		return cli_required("--org NAME", INIT_USAGE);
	if (o.base_url == NULL)
		return cli_required("--base-url URL", INIT_USAGE);
	if ((base = url_trim(o.base_url)) == NULL || (o.enroll_url != NULL &&
	    (enroll = url_trim(o.enroll_url)) == NULL)) {
		ex = cli_fail(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	o.base_url = base;
	if (enroll != NULL)
		o.enroll_url = enroll;
	if (strncmp(base, "https:", 6) == 0)
		fprintf(stderr, "userca: init: warning: --base-url %s is https: "
		    "it goes into every certificate's CRL\n  distribution "
		    "point and AIA, and Windows does not follow https there, so "
		    "its\n  revocation checks fail.  Use plain http (e.g. "
		    "http://pki.example.com:8080) and\n  --enroll-url "
		    "https://... for enrollment.\n", base);
	o.home = cli_home(home);
	if ((rc = authority_init(&o, cli_getpass,
	    (void *)(uintptr_t)passfile)) != UC_OK) {
		ex = cli_fail(rc, "init");
		goto out;
	}
	if (authority_open(o.home, &a) == UC_OK) {
		rfp = fp_colons(authority_root_cert(a));
		ifp = fp_colons(authority_issuing_cert(a));
	}
	if (json) {
		ex = cli_json_print(json_pack("{s:s, s:s, s:s, s:s*, s:s*, "
		    "s:s*}", "home", o.home, "profile", o.profile != NULL ?
		    o.profile : "compatible", "base_url", base, "enroll_url",
		    o.enroll_url, "root_sha256", rfp, "issuing_sha256",
		    o.intermediate ? ifp : NULL));
		goto out;
	}
	init_report(&o, base, rfp, ifp);
	ex = 0;
out:
	authority_free(a);
	free(rfp);
	free(ifp);
	free(base);
	free(enroll);
	return ex;
}

/*
 * The subcommand of argv (the first word that is neither an option nor an
 * option's value) when it is one of names: argv rearranged in place with
 * it first (the rest after it, in order), its index returned; else 0.
 */
static int
subcommand(int argc, char **argv, const char *const *names)
{
	static const char *const valued[] = { "--home", "--out", "--cn",
	    "--passphrase-file", "--days", "--org", "--base-url",
	    "--enroll-url", "--profile", "--issuing-cn", "--root", NULL };
	char *sub;
	int i, j, k;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			for (k = 0; valued[k] != NULL; k++)
				if (strcmp(argv[i], valued[k]) == 0)
					break;
			if (valued[k] != NULL)
				i++;
			continue;
		}
		for (k = 0; names[k] != NULL; k++)
			if (strcmp(argv[i], names[k]) == 0)
				break;
		if (names[k] == NULL)
			return 0;
		sub = argv[i];
		for (j = i; j > 1; j--)
			argv[j] = argv[j - 1];
		argv[1] = sub;
		return 1;
	}
	return 0;
}

#define ROOT_USAGE "root sign-intermediate REQ.csr --out CA.crt [--cn CN] " \
	"[--force] [--json] [--passphrase-file F] [--home DIR]\n" \
	"       userca root renew|install ...   (userca root renew --help)"
#define ROOT_EXAMPLES \
	"  userca root sign-intermediate --home /media/offline/pki " \
	"issuing.csr --out issuing.crt\n"
#define ROOT_HELP \
	"On the offline host: signs an issuing CA's request " \
	"(made with 'userca\nintermediate request' on the " \
	"online host) with the root key, records it,\nand " \
	"writes the certificate to --out.  Carry CA.crt and " \
	"root/root.crt back.\n" \
	"The issuing CA's EKU is clientAuth, serverAuth, " \
	"OCSPSigning, and emailProtection\nwhen this root's " \
	"home was made with 'init --smime'.  The same step " \
	"signs the request\nof an air-gapped rollover " \
	"('intermediate rollover --request').\n" \
	"'root renew' re-signs the root with its own key; " \
	"'root install' takes the\nrenewed root on the " \
	"online home (userca root renew --help).\n"

int
cmd_root(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "out", required_argument, NULL, O_OUT },
		{ "cn", required_argument, NULL, O_CN },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL, *passfile = NULL, *out = NULL, *cn = NULL;
	unsigned char *csr = NULL, *pem = NULL;
	size_t csrlen, pemlen;
	int c, rc, ex, force = 0, json = 0;
	static const char *const renew[] = { "renew", "install", NULL };

	if (subcommand(argc, argv, renew))
		return cmd_root_renew(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_OUT: out = optarg; break;
		case O_CN: cn = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(ROOT_USAGE, ROOT_EXAMPLES,
			    ROOT_HELP);
		default:
			return cli_badopt(c, argv, lo, ROOT_USAGE);
		}
	}
	if (argc - optind < 1 || strcmp(argv[optind], "sign-intermediate") != 0)
		return cli_badval("subcommand", argc > optind ? argv[optind] :
		    "", "use 'sign-intermediate', 'renew' or 'install'",
		    ROOT_USAGE);
	if (argc - optind != 2)
		return cli_required("REQ.csr (one request file)", ROOT_USAGE);
	if (out == NULL)
		return cli_required("--out CA.crt", ROOT_USAGE);
	if (cli_out_preflight("--out", out, force) != 0)
		return 1;
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
	if (json)
		cli_json_print(json_pack("{s:s, s:s}", "request",
		    argv[optind + 1], "file", out));
	else
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
	"       userca intermediate install CA.crt --root ROOT.crt [--home DIR]" \
	"\n       [--force] [--json]\n" \
	"       userca intermediate rollover ...   " \
	"(userca intermediate rollover --help)"
#define INTER_EXAMPLES \
	"  userca intermediate request --org 'Example Ltd' --base-url " \
	"http://pki.example.com:8080 \\\n" \
	"      --enroll-url https://pki.example.com:8443 --out issuing.csr\n" \
	"  userca intermediate install issuing.crt --root root.crt\n"
#define INTER_HELP \
	"The online host's half of the air-gapped set-up.\n" \
	"  request  creates a new home with an issuing key " \
	"and writes its CSR;\n" \
	"           carry REQ.csr to the offline host " \
	"('userca root sign-intermediate').\n" \
	"           --enroll-url, --allow-http-links and " \
	"--smime as for 'userca init'\n" \
	"           (the EKU of the issuing CA is the offline " \
	"root home's choice).\n" \
	"  install  checks that CA.crt matches the issuing " \
	"key and chains to\n" \
	"           ROOT.crt, installs both, creates the " \
	"records and the first CRL;\n" \
	"           on a home with a pending rollover " \
	"(issuing/next.key), switches to it.\n" \
	"  rollover a new issuing CA under the same root " \
	"(online, or --request over the\n" \
	"           air gap): userca intermediate rollover " \
	"--help.\n"

/* intermediate install CA.crt --root ROOT.crt; the exit status. */
static int
inter_install(const char *home, const char *cafile, const char *root, int json)
{
	unsigned char *ca = NULL, *rt = NULL;
	size_t calen, rtlen;
	int rc;

	if (root == NULL)
		return cli_required("--root ROOT.crt", INTER_USAGE);
	if ((rc = file_read(cafile, 256 * 1024, &ca, &calen)) != UC_OK)
		return cli_fail(rc, "reading the CA certificate");
	if ((rc = file_read(root, 256 * 1024, &rt, &rtlen)) != UC_OK) {
		free(ca);
		return cli_fail(rc, "reading the root certificate");
	}
	rc = authority_intermediate_install(home, ca, calen, rt, rtlen);
	free(ca);
	free(rt);
	if (rc != UC_OK)
		return cli_fail(rc, "intermediate install");
	if (json)
		return cli_json_print(json_pack("{s:s}", "home", home));
	printf("issuing CA installed in %s\n", home);
	return 0;
}

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
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct init_opts o;
	const char *home = NULL, *out = NULL, *root = NULL;
	unsigned char *csr = NULL;
	size_t len;
	int c, rc, force = 0, json = 0;
	static const char *const roll[] = { "rollover", NULL };

	if (subcommand(argc, argv, roll))
		return cmd_rollover(argc - 1, argv + 1);
	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
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
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(INTER_USAGE, INTER_EXAMPLES,
			    INTER_HELP);
		default:
			return cli_badopt(c, argv, lo, INTER_USAGE);
		}
	}
	o.home = cli_home(home);
	if (argc - optind == 1 && strcmp(argv[optind], "request") == 0) {
		if (o.org == NULL)
			return cli_required("--org NAME", INTER_USAGE);
		if (o.base_url == NULL)
			return cli_required("--base-url URL", INTER_USAGE);
		if (out == NULL)
			return cli_required("--out REQ.csr", INTER_USAGE);
		if (cli_out_preflight("--out", out, force) != 0)
			return 1;
		if ((rc = authority_intermediate_request(&o, &csr, &len)) !=
		    UC_OK)
			return cli_fail(rc, "intermediate request");
		rc = file_write_atomic(out, csr, len, 0644);
		free(csr);
		if (rc != UC_OK)
			return cli_fail(rc, "writing the request");
		if (json)
			return cli_json_print(json_pack("{s:s, s:s}", "home",
			    o.home, "file", out));
		printf("issuing key in %s/issuing/ca.key; request written to "
		    "%s\n", o.home, out);
		return 0;
	}
	if (argc - optind == 2 && strcmp(argv[optind], "install") == 0)
		return inter_install(o.home, argv[optind + 1], root, json);
	if (argc - optind >= 1 && strcmp(argv[optind], "request") != 0 &&
	    strcmp(argv[optind], "install") != 0)
		return cli_badval("subcommand", argv[optind], "use 'request', "
		    "'install' or 'rollover'", INTER_USAGE);
	if (argc - optind == 0)
		return cli_required("a subcommand (request or install)",
		    INTER_USAGE);
	if (strcmp(argv[optind], "install") == 0)
		return cli_required("CA.crt (one certificate file)",
		    INTER_USAGE);
	return cli_badval("argument", argv[argc - 1], "request takes no "
	    "file argument; use --out", INTER_USAGE);
}

#define CRL_USAGE "crl [--root [--runway N [--out FILE [--force]]]] " \
	"[--days N] [--import-root FILE] [--json] " \
	"[--passphrase-file F] [--home DIR]"
#define CRL_EXAMPLES \
	"  userca crl\n" \
	"  userca crl --root --runway 12 --out root-crls.pem   " \
	"(offline, at a key ceremony)\n" \
	"  userca crl --import-root root-crls.pem\n"
#define CRL_HELP \
	"Re-signs the issuing CA's CRL (its number always " \
	"goes up) and publishes it.\n" \
	"  --root         also re-sign the root's CRL (needs " \
	"the root passphrase)\n" \
	"  --days N       validity (nextUpdate); default " \
	"from userca.conf\n" \
	"  --import-root F  on an online home: install a " \
	"root CRL (or a runway of them)\n" \
	"                 signed offline\n" \
	"  --root --runway N  at a key ceremony: pre-sign N " \
	"root CRLs, CRL k in force\n" \
	"                 from now + k periods (--days, " \
	"default root_crl_days) to\n" \
	"                 one period later plus an overlap; " \
	"publish and the daemon\n" \
	"                 serve the one in force.  --out " \
	"FILE writes them all (PEM)\n" \
	"                 for 'crl --import-root' on the " \
	"online home.\n"

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
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct crl_state cs;
	const char *home = NULL, *passfile = NULL, *import = NULL;
	const char *out = NULL;
	unsigned char *buf = NULL;
	char nu[32];
	size_t len;
	int days = 0, runway = 0;
	int c, rc, ex, root = 0, force = 0, json = 0;

	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_ROOT: root = 1; break;
		case O_DAYS:
			if (!parse_int(optarg, 1, 3650, &days))
				return cli_badval("--days", optarg, "a number of "
				    "days from 1 to 3650", CRL_USAGE);
			break;
		case O_IMPORT: import = optarg; break;
		case O_RUNWAY:
			if (!parse_int(optarg, 1, 100, &runway))
				return cli_badval("--runway", optarg, "a number "
				    "of CRLs from 1 to 100", CRL_USAGE);
			break;
		case O_OUT: out = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(CRL_USAGE, CRL_EXAMPLES,
			    CRL_HELP);
		default:
			return cli_badopt(c, argv, lo, CRL_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "crl takes no "
		    "arguments", CRL_USAGE);
	if (runway > 0 && !root)
		return cli_required("--root (with --runway)", CRL_USAGE);
	if (out != NULL && runway == 0)
		return cli_required("--runway N (with --out)", CRL_USAGE);
	if (cli_out_preflight("--out", out, force) != 0)
		return 1;
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
	else if (json && authority_crl_state(a, 0, &cs) == UC_OK) {
		uc_time_iso(cs.next_update, nu, sizeof(nu));
		ex = cli_json_print(json_pack("{s:I, s:s, s:b}", "crl_number",
		    (json_int_t)cs.number, "next_update", nu, "root", root));
	} else
		printf("CRL%s signed and published\n", root ? "s" : "");
	free(buf);
	authority_free(a);
	return ex;
}

#define PUBLISH_USAGE "publish [--json] [--home DIR]"
#define PUBLISH_EXAMPLES \
	"  userca publish --home /var/lib/userca\n"
#define PUBLISH_HELP \
	"Writes HOME/public/, each file replaced atomically:" \
	"\n  ca-bundle.pem  issuing CA then root (PEM)\n" \
	"  ca.crt         issuing CA (DER)\n" \
	"  crl.der, crl.pem  the issuing CA's newest CRL\n" \
	"  root.crl       the root's newest CRL (DER)\n" \
	"  ca.json        subjects, SHA-1 and SHA-256 " \
	"fingerprints, notAfter, URLs\n"

int
cmd_publish(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL;
	int c, rc, ex, json = 0;

	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(PUBLISH_USAGE, PUBLISH_EXAMPLES,
			    PUBLISH_HELP);
		default:
			return cli_badopt(c, argv, lo, PUBLISH_USAGE);
		}
	}
	if (optind != argc)
		return cli_badval("argument", argv[optind], "publish takes no "
		    "arguments", PUBLISH_USAGE);
	if ((ex = cli_open(cli_home(home), NULL, &a)) != 0)
		return ex;
	if ((rc = authority_publish(a)) != UC_OK)
		ex = cli_fail(rc, "publish");
	else if (json)
		cli_json_print(json_pack("{s:s+}", "dir", cli_home(home),
		    "/public"));
	else
		printf("published to %s/public\n", cli_home(home));
	authority_free(a);
	return ex;
}
