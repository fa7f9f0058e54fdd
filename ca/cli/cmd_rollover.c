/*
 * cmd_rollover.c: userca intermediate rollover, userca root renew and
 * userca root install (cmd_ca.c hands these subcommands over).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_HOME = 256, O_CN, O_REQUEST, O_OUT, O_PASSF, O_DAYS, O_FORCE,
	O_JSON, O_HELP
};

#define ROLL_USAGE "intermediate rollover [--cn CN] [--passphrase-file F] " \
	"[--json] [--home DIR]\n" \
	"       userca intermediate rollover --request --out REQ.csr [--cn CN] " \
	"[--force] [--json] [--home DIR]"
#define ROLL_EXAMPLES \
	"  userca intermediate rollover --home /var/lib/userca   " \
	"(root key in the home)\n" \
	"  userca intermediate rollover --request --out next.csr  " \
	"(air gap; then, offline:)\n" \
	"  userca root sign-intermediate --home /media/offline/pki next.csr " \
	"--out next.crt\n" \
	"  userca intermediate install next.crt --root root.crt   " \
	"(back online)\n"

static int
roll_print(int json, const struct rollover_result *r, const char *home)
{
	if (json)
		return cli_json_print(json_pack("{s:s, s:i, s:s?, s:s?, s:b}",
		    "home", home, "generation", r->gen, "subject", r->subject,
		    "sha256", r->sha256, "resumed", r->resumed));
	printf("%sissuing CA %d in service: %s\nSHA-256 %s\n"
	    "new certificates come from it now; the previous issuing CA "
	    "signs its CRL\nuntil it expires (public/crl.pem, crls.pem, "
	    "ca-bundle.pem hold both).\nuserca-enrolld follows at its "
	    "next poll.\n", r->resumed ?
	    "(an interrupted rollover finished) " : "", r->gen, r->subject,
	    r->sha256);
	return 0;
}

static int
roll_request(struct authority *a, const char *cn, const char *out, int json,
    const char *home)
{
	struct rollover_result r;
	unsigned char *csr = NULL;
	size_t len;
	int rc;

	if ((rc = authority_rollover_request(a, cn, &csr, &len, &r)) != UC_OK)
		return cli_fail(rc, "intermediate rollover --request");
	rc = file_write_atomic(out, csr, len, 0644);
	free(csr);
	if (rc != UC_OK) {
		rollover_result_clear(&r);
		return cli_fail(rc, "writing the request");
	}
	if (json)
		rc = cli_json_print(json_pack("{s:s, s:s, s:i, s:s}", "home",
		    home, "file", out, "generation", r.gen, "key_sha256",
		    r.key_sha256));
	else
		printf("rollover key in %s/issuing/next.key; request written "
		    "to %s\nits public key's SHA-256: %s\ncarry it to the "
		    "offline host: userca root sign-intermediate %s --out "
		    "CA.crt\nthen here: userca intermediate install CA.crt "
		    "--root ROOT.crt\n", home, out, r.key_sha256, out);
	rollover_result_clear(&r);
	return rc;
}

int
cmd_rollover(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "cn", required_argument, NULL, O_CN },
		{ "request", no_argument, NULL, O_REQUEST },
		{ "out", required_argument, NULL, O_OUT },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	struct rollover_result r;
	const char *home = NULL, *cn = NULL, *out = NULL, *passfile = NULL;
	int c, rc, ex, request = 0, force = 0, json = 0;

	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_CN: cn = optarg; break;
		case O_REQUEST: request = 1; break;
		case O_OUT: out = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return cli_help(ROLL_USAGE, ROLL_EXAMPLES,
			    "A new issuing CA under the same root: a new key "
			    "and certificate (CN: --cn, or\nthe configured "
			    "issuing_cn with its generation, e.g. '... Issuing "
			    "CA 2').  New\ncertificates come from it at once; "
			    "the previous issuing CA moves to\n"
			    "issuing/previous/<gen>.crt and .key, signs no more "
			    "certificates, but keeps\nsigning its CRL until its "
			    "own certificate expires, so its users keep\n"
			    "working and can still be revoked.  public/ then "
			    "holds both chains\n(ca-bundle.pem), both CRLs "
			    "(crl.pem: the current CA's first; crls.pem:\nall, "
			    "with the root's; crl-<gen>.der/.pem, "
			    "issuing-<gen>.crt).  The new CA\ngets today's "
			    "profile: EKU clientAuth, serverAuth, OCSPSigning "
			    "(and\nemailProtection on an --smime CA).\n"
			    "  (no --request)  on a home that holds the root "
			    "key (asks its passphrase)\n"
			    "  --request       air gap: the new key waits in "
			    "issuing/next.key; REQ.csr\n"
			    "                  goes to the offline root ('root "
			    "sign-intermediate'), and\n"
			    "                  'intermediate install CA.crt "
			    "--root ROOT.crt' switches to it\n"
			    "A rollover interrupted half-way is finished by "
			    "running it again.\nA running userca-enrolld "
			    "follows at its next poll ([crl] poll).\n");
		default:
			return cli_badopt(c, argv, lo, ROLL_USAGE);
		}
	}
	if (argc - optind != 0)
		return cli_badval("argument", argv[optind], "rollover takes "
		    "no file argument (--request writes to --out)",
		    ROLL_USAGE);
	if (request && out == NULL)
		return cli_required("--out REQ.csr (with --request)",
		    ROLL_USAGE);
	if (!request && out != NULL)
		return cli_required("--request (--out is for the request)",
		    ROLL_USAGE);
	if (request && cli_out_preflight("--out", out, force) != 0)
		return 1;
	home = cli_home(home);
	if ((ex = cli_open(home, passfile, &a)) != 0)
		return ex;
	if (request) {
		ex = roll_request(a, cn, out, json, home);
		authority_free(a);
		return ex;
	}
	rc = authority_rollover(a, cn, &r);
	authority_free(a);	/* opened before the switch: stale now */
	if (rc != UC_OK)
		return cli_fail(rc, "intermediate rollover");
	ex = roll_print(json, &r, home);
	rollover_result_clear(&r);
	return ex;
}

#define RENEW_USAGE "root renew [--days N] [--out ROOT.crt [--force]] " \
	"[--passphrase-file F] [--json] [--home DIR]\n" \
	"       userca root install ROOT.crt [--json] [--home DIR]"
#define RENEW_EXAMPLES \
	"  userca root renew --home /media/offline/pki --out root-new.crt\n" \
	"  userca root install root-new.crt --home /var/lib/userca   " \
	"(the online home)\n"

static int
root_renew_help(void)
{
	return cli_help(RENEW_USAGE, RENEW_EXAMPLES,
	    "  renew    re-signs the root with its own key: same subject, "
	    "same key and key\n"
	    "           identifier, a new serial and validity (--days, "
	    "default root_days).\n"
	    "           Every issuing CA's chain verifies with the old or "
	    "the new root\n"
	    "           certificate as trust anchor, so gateways that trust "
	    "the old one (or\n"
	    "           pin the root's key) keep working.  The old "
	    "certificate stays in\n"
	    "           root/root-<serial>.crt; root/root.crt and public/ "
	    "get the new one.\n"
	    "  install  on the online home of an offline root: installs "
	    "the renewed root\n"
	    "           (same subject and key, valid longer) and "
	    "publishes it.\n"
	    "The key pin (userca-gateway-sync --pin-spki-sha256, as the "
	    "gateway kit has it)\nstays; the certificate's SHA-256 changes: "
	    "update what pins the certificate\n(--pin-sha256; public/ca.json "
	    "has the new one).\n");
}

static int
root_install(int argc, char **argv, const char *home, int json)
{
	struct authority *a = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc, ex;

	if (argc != 1)
		return cli_required("ROOT.crt (one certificate file)",
		    RENEW_USAGE);
	if ((rc = file_read(argv[0], 256 * 1024, &buf, &len)) != UC_OK)
		return cli_fail(rc, argv[0]);
	if ((ex = cli_open(home, NULL, &a)) != 0) {
		free(buf);
		return ex;
	}
	rc = authority_root_install(a, buf, len);
	free(buf);
	authority_free(a);
	if (rc != UC_OK)
		return cli_fail(rc, "root install");
	if (json)
		return cli_json_print(json_pack("{s:s, s:s}", "home", home,
		    "file", argv[0]));
	printf("renewed root installed from %s and published\n", argv[0]);
	return 0;
}

/* argv[0] is "renew" or "install". */
int
cmd_root_renew(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "home", required_argument, NULL, O_HOME },
		{ "days", required_argument, NULL, O_DAYS },
		{ "out", required_argument, NULL, O_OUT },
		{ "passphrase-file", required_argument, NULL, O_PASSF },
		{ "force", no_argument, NULL, O_FORCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct authority *a = NULL;
	const char *home = NULL, *out = NULL, *passfile = NULL;
	unsigned char *pem = NULL;
	size_t len;
	int c, rc, ex, days = 0, force = 0, json = 0, install;

	install = strcmp(argv[0], "install") == 0;
	while ((c = getopt_long(argc, argv, CLI_OPTS, lo, NULL)) != -1) {
		switch (c) {
		case O_HOME: home = optarg; break;
		case O_DAYS:
			if (!parse_int(optarg, 1, 36500, &days))
				return cli_badval("--days", optarg, "a number "
				    "of days, 1 to 36500", RENEW_USAGE);
			break;
		case O_OUT: out = optarg; break;
		case O_PASSF: passfile = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case 'h':
		case O_HELP:
			return root_renew_help();
		default:
			return cli_badopt(c, argv, lo, RENEW_USAGE);
		}
	}
	home = cli_home(home);
	if (install)
		return root_install(argc - optind, argv + optind, home, json);
	if (argc - optind != 0)
		return cli_badval("argument", argv[optind], "renew takes no "
		    "file argument (--out writes a copy)", RENEW_USAGE);
	if (out != NULL && cli_out_preflight("--out", out, force) != 0)
		return 1;
	if ((ex = cli_open(home, passfile, &a)) != 0)
		return ex;
	rc = authority_root_renew(a, days, &pem, &len);
	authority_free(a);
	if (rc != UC_OK)
		return cli_fail(rc, "root renew");
	if (out != NULL && (rc = file_write_atomic(out, pem, len, 0644)) !=
	    UC_OK) {
		free(pem);
		return cli_fail(rc, "writing the root certificate");
	}
	free(pem);
	if (json)
		return cli_json_print(json_pack("{s:s, s:s?}", "home", home,
		    "file", out));
	printf("root re-signed with its key: %s/root/root.crt%s%s\n"
	    "on the online home: userca root install ROOT.crt\n", home,
	    out != NULL ? ", and " : "", out != NULL ? out : "");
	return 0;
}
