/*
 * notify.c: userca notify, reminders before expiry through sendmail(8).
 *
 * For each user due (renew.h), once per certificate and threshold (the
 * window in days): a new renewal link, valid until the certificate
 * expires (DESIGN 20), recorded in one transaction with the reminder row;
 * then the message goes to "SENDMAIL -t -oi".  When the mailer fails, the
 * reminder row is dropped and the link ended, so the next run tries again;
 * a crash between the commit and the mailer loses that one reminder
 * rather than sending it twice.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authority_int.h"
#include "renew.h"
#include "ucbuf.h"

#define TEMPLATE_MAX	(64 * 1024)
#define DEFAULT_SENDMAIL "/usr/sbin/sendmail"

static const char default_template[] =
    "Subject: Your certificate expires on {not_after}\n"
    "\n"
    "Hello {name},\n"
    "\n"
    "the certificate of {username} ({email}) expires on {not_after},\n"
    "in {days} days.  After that, sites that ask for it will refuse you.\n"
    "\n"
    "Get its replacement here (the link works once, until {not_after}):\n"
    "\n"
    "  {url}\n"
    "\n"
    "This message was sent automatically.\n";

/* ---- templates ------------------------------------------------------------- */

struct tmpl {
	char	*subject;
	char	*body;
};

static void
tmpl_clear(struct tmpl *t)
{
	free(t->subject);
	free(t->body);
	memset(t, 0, sizeof(*t));
}

/* "Subject: ..." line, a blank line, the body. */
static int
tmpl_parse(const char *text, const char *name, struct tmpl *t)
{
	const char *nl, *p = text;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (strncasecmp(p, "Subject:", 8) != 0)
		return uc_seterr(UC_E_INVALID, "%s: the first line must be "
		    "'Subject: ...'", name);
	p += 8;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((nl = strchr(p, '\n')) == NULL)
		return uc_seterr(UC_E_INVALID, "%s: a blank line must follow "
		    "the Subject line, then the body", name);
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (nl[1] != '\n' && !(nl[1] == '\r' && nl[2] == '\n'))
		return uc_seterr(UC_E_INVALID, "%s: line 2 must be blank (only "
		    "Subject is a header; the body follows)", name);
	if ((t->subject = strndup(p, n)) == NULL ||
	    (t->body = strdup(nl + (nl[1] == '\r' ? 3 : 2))) == NULL) {
		tmpl_clear(t);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	return UC_OK;
}

static int
tmpl_load(const char *path, struct tmpl *t)
{
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	if (path == NULL)
		return tmpl_parse(default_template, "built-in template", t);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return uc_seterr(UC_E_IO, "%s: %s", path, strerror(errno));
	if ((buf = malloc(TEMPLATE_MAX + 1)) == NULL) {
		close(fd);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	while (len < TEMPLATE_MAX && (n = read(fd, buf + len,
	    TEMPLATE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (len == TEMPLATE_MAX || memchr(buf, '\0', len) != NULL)
		rc = uc_seterr(UC_E_INVALID, "%s: not a text file under 64 KiB",
		    path);
	else
		rc = tmpl_parse(buf, path, t);
	free(buf);
	return rc;
}

int
notify_template_check(const char *path)
{
	struct tmpl t;
	int rc;

	if ((rc = tmpl_load(path, &t)) == UC_OK)
		tmpl_clear(&t);
	return rc;
}

struct vars {
	const char	*name, *username, *email, *not_after, *url, *days;
};

/* s with {placeholders} replaced; in headers (hdr) CR/LF become spaces. */
static int
render(struct ucbuf *b, const char *s, const struct vars *v, int hdr)
{
	static const char *const keys[] = {
		"name", "username", "email", "not_after", "url", "days",
	};
	const char *vals[6] = {
		v->name, v->username, v->email, v->not_after, v->url, v->days,
	};
	const char *p, *val;
	size_t i, k;

	for (p = s; *p != '\0'; p++) {
		val = NULL;
		if (*p == '{') {
			for (i = 0; i < 6; i++) {
				k = strlen(keys[i]);
				if (strncmp(p + 1, keys[i], k) == 0 &&
				    p[1 + k] == '}') {
					val = vals[i] != NULL ? vals[i] : "";
					p += k + 1;
					break;
				}
			}
		}
		if (val == NULL)
			val = p, k = 1;
		else
			k = strlen(val);
		for (i = 0; i < k; i++) {
			char c = val[i];

			if (hdr && (c == '\r' || c == '\n'))
				c = ' ';
			if (ucbuf_add(b, &c, 1) != UC_OK)
				return uc_seterr(UC_E_INTERNAL, "out of memory");
		}
	}
	return UC_OK;
}

/* "Subject: " with RFC 2047 base64 when it is not plain ASCII. */
static int
put_subject(struct ucbuf *b, const char *s, size_t len)
{
	unsigned char *enc = NULL;
	size_t i;
	int ascii = 1, rc;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = 0;
	if (ascii)
		return ucbuf_printf(b, "Subject: %.*s\n", (int)len, s);
	if (len > 3000 || (enc = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return uc_seterr(UC_E_INTERNAL, "subject too long");
	EVP_EncodeBlock(enc, (const unsigned char *)s, (int)len);
	rc = ucbuf_printf(b, "Subject: =?UTF-8?B?%s?=\n", enc);
	free(enc);
	return rc;
}

/* An address we put in To: as is: no spaces, controls, or header syntax. */
static int
address_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && n <= 254 && strchr(s, '@') != NULL &&
	    strcspn(s, " \t\r\n,;:<>()\"\\[]") == n && s[0] != '-';
}

static int
message(struct ucbuf *b, const struct tmpl *t, const struct vars *v,
    const char *to, const char *from, int64_t now)
{
	struct ucbuf subj;
	struct tm tm;
	time_t tt = (time_t)now;
	char date[64];
	int rc;

	ucbuf_init(&subj, 4096, 0);
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    &tm) == 0)
		return uc_seterr(UC_E_INTERNAL, "date");
	if ((rc = render(&subj, t->subject, v, 1)) != UC_OK)
		goto out;
	if ((rc = ucbuf_printf(b, "To: %s\n", to)) != UC_OK ||
	    (from != NULL && (rc = ucbuf_printf(b, "From: %s\n", from)) !=
	    UC_OK) ||
	    (rc = put_subject(b, ucbuf_str(&subj),
	    ucbuf_len(&subj))) != UC_OK ||
	    (rc = ucbuf_printf(b, "Date: %s\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=UTF-8\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "Auto-Submitted: auto-generated\n\n", date)) != UC_OK ||
	    (rc = render(b, t->body, v, 0)) != UC_OK)
		goto out;
out:
	ucbuf_free(&subj);
	return rc;
}

/* ---- sendmail(8) ------------------------------------------------------------- */

/* Run "path -t -oi" with msg on its stdin; UC_OK when it exits 0. */
static int
sendmail(const char *path, const unsigned char *msg, size_t len)
{
	int sv[2], status;
	pid_t pid;
	ssize_t n;
	size_t off = 0;

	/* A socket, not a pipe: MSG_NOSIGNAL, no SIGPIPE if it dies early. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return uc_seterr(UC_E_IO, "socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return uc_seterr(UC_E_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		char opt_t[] = "-t", opt_oi[] = "-oi";
		char *const argv[] = { (char *)(uintptr_t)path, opt_t, opt_oi,
		    NULL };

		if (dup2(sv[1], STDIN_FILENO) == -1)
			_exit(127);
		execv(path, argv);
		_exit(127);
	}
	close(sv[1]);
	while (off < len) {
		n = send(sv[0], msg + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(sv[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return uc_seterr(UC_E_IO, "%s: %s", path,
			    strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return uc_seterr(UC_E_IO, "%s: could not run it", path);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return uc_seterr(UC_E_IO, "%s -t -oi failed (%s %d)", path,
		    WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status));
	if (off < len)
		return uc_seterr(UC_E_IO, "%s: took only %zu of %zu bytes",
		    path, off, len);
	return UC_OK;
}

static int
send_buf(const char *path, const struct ucbuf *b)
{
	return sendmail(path, (const unsigned char *)ucbuf_str(b),
	    ucbuf_len(b));
}

/* ---- the run ------------------------------------------------------------------- */

struct due_item {
	char	*username;
	char	*serial;
	int64_t	 cert_id;
	int64_t	 not_after;
};

struct due_vec {
	struct due_item	*v;
	size_t		 n, cap;
};

static int
due_add(const struct store_due *d, void *arg)
{
	struct due_vec *dv = arg;
	struct due_item *nv;

	if (dv->n == dv->cap) {
		dv->cap = dv->cap ? dv->cap * 2 : 64;
		if ((nv = realloc(dv->v, dv->cap * sizeof(*nv))) == NULL)
			return uc_seterr(UC_E_INTERNAL, "out of memory");
		dv->v = nv;
	}
	memset(&dv->v[dv->n], 0, sizeof(dv->v[0]));
	dv->v[dv->n].cert_id = d->cert_id;
	dv->v[dv->n].not_after = d->not_after;
	if ((dv->v[dv->n].username = strdup(d->username)) == NULL ||
	    (dv->v[dv->n].serial = strdup(d->serial)) == NULL) {
		free(dv->v[dv->n].username);
		return uc_seterr(UC_E_INTERNAL, "out of memory");
	}
	dv->n++;
	return 0;
}

static void
due_vec_free(struct due_vec *dv)
{
	size_t i;

	for (i = 0; i < dv->n; i++) {
		free(dv->v[i].username);
		free(dv->v[i].serial);
	}
	free(dv->v);
	memset(dv, 0, sizeof(*dv));
}

/*
 * Record the reminder and a renewal link in one transaction.  *fresh is 0
 * when another run recorded this reminder first.
 */
static int
record_reminder(struct authority *a, const struct due_item *d, int64_t uid,
    int threshold, int64_t now, const unsigned char hash[32], int revoke_old,
    int *fresh)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	if ((rc = store_begin(a->st)) != UC_OK)
		goto out;
	if ((rc = store_reminder_add(a->st, d->cert_id, threshold, now,
	    fresh)) != UC_OK || !*fresh)
		goto done;
	if ((rc = store_token_insert(a->st, uid, hash, now, d->not_after,
	    NULL)) != UC_OK ||
	    (rc = store_token_set_renews(a->st, hash, d->cert_id,
	    revoke_old)) != UC_OK ||
	    (rc = store_audit(a->st, now, a->actor, "notify", d->username,
	    d->serial)) != UC_OK)
		goto done;
done:
	if (rc == UC_OK && *fresh)
		rc = store_commit(a->st);
	else
		store_rollback(a->st);
	if (rc != UC_OK)
		store_rollback(a->st);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* The mailer failed: forget the reminder, end the link; next run retries. */
static void
undo_reminder(struct authority *a, const struct due_item *d, int threshold,
    int64_t now, const unsigned char hash[32])
{
	pthread_mutex_lock(&a->mu);
	if (store_begin(a->st) == UC_OK) {
		if (store_reminder_drop(a->st, d->cert_id, threshold) !=
		    UC_OK || store_token_end(a->st, hash, now) != UC_OK ||
		    store_commit(a->st) != UC_OK)
			store_rollback(a->st);
	}
	pthread_mutex_unlock(&a->mu);
}

static void
fail_user(const struct notify_opts *o, struct notify_stats *st,
    struct ucbuf *sum, const struct due_item *d, const char *why)
{
	st->failed++;
	if (o->on_error != NULL)
		o->on_error(o->arg, d->username, why);
	(void)ucbuf_printf(sum, "  %-20s NOT MAILED: %s\n", d->username, why);
}

/* One run of authority_notify: its settings, template and buffers. */
struct notify_run {
	struct authority		*a;
	const struct notify_opts	*o;
	struct notify_stats		*st;
	struct tmpl			 t;
	struct ucbuf			 sum;	/* the admin's summary */
	struct ucbuf			 msg;	/* one message */
	const char			*mailer, *admin, *from;
	int				 threshold;	/* days */
	int64_t				 now;
	long				 refused;	/* by the mailer */
};

/*
 * Mail user u (due as d) a new renewal link, the reminder recorded first.
 * A mailer that refuses undoes the reminder and counts the user as
 * failed; only a database or memory error is returned.
 */
static int
notify_mail(struct notify_run *r, const struct due_item *d,
    const struct store_user *u, const char *when, const char *days)
{
	struct vars v;
	unsigned char hash[32];
	char *tok = NULL, *url = NULL;
	int rc, fresh;

	if ((rc = token_new(&tok, hash)) != UC_OK ||
	    (rc = record_reminder(r->a, d, u->id, r->threshold, r->now, hash,
	    r->o->revoke_old >= 0 ? r->o->revoke_old :
	    authority_conf(r->a)->renew_revoke_old, &fresh)) != UC_OK)
		goto out;
	if (!fresh) {		/* a run beside this one mailed */
		r->st->already++;
		goto out;
	}
	if ((url = authority_enroll_url(r->a, tok)) == NULL) {
		rc = uc_seterr(UC_E_INTERNAL, "out of memory");
		goto out;
	}
	v.name = u->name != NULL ? u->name : u->username;
	v.username = u->username;
	v.email = u->email;
	v.not_after = when;
	v.url = url;
	v.days = days;
	ucbuf_reset(&r->msg);
	if (message(&r->msg, &r->t, &v, u->email, r->from, r->now) != UC_OK ||
	    send_buf(r->mailer, &r->msg) != UC_OK) {
		undo_reminder(r->a, d, r->threshold, r->now, hash);
		fail_user(r->o, r->st, &r->sum, d, uc_errmsg());
		r->refused++;
		goto out;
	}
	r->st->mailed++;
	(void)ucbuf_printf(&r->sum, "  %-20s %s, expires %s\n", d->username,
	    u->email, when);
	if (r->o->on_user != NULL)
		r->o->on_user(r->o->arg, d->username, u->email, d->not_after);
out:
	secret_free(url);
	secret_free(tok);
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* The admin's summary, when anyone was mailed or refused. */
static int
notify_summary(struct notify_run *r)
{
	const struct notify_stats *st = r->st;
	int rc;

	/* Not for users without an address alone: they'd be news daily. */
	if (r->admin == NULL || r->o->dry_run || (st->mailed == 0 &&
	    r->refused == 0))
		return UC_OK;
	ucbuf_reset(&r->msg);
	if ((rc = ucbuf_printf(&r->msg, "To: %s\n", r->admin)) != UC_OK ||
	    (r->from != NULL && (rc = ucbuf_printf(&r->msg, "From: %s\n",
	    r->from)) != UC_OK) ||
	    (rc = ucbuf_printf(&r->msg, "Subject: userca: %ld reminder%s "
	    "sent, %ld failed (certificates expiring within %d days)\n"
	    "MIME-Version: 1.0\nContent-Type: text/plain; "
	    "charset=UTF-8\nAuto-Submitted: auto-generated\n\n"
	    "%ld user%s due within %d days; %ld mailed now, %ld mailed "
	    "before, %ld not mailed.\n\n", st->mailed, st->mailed == 1 ?
	    "" : "s", st->failed, r->threshold, st->due, st->due == 1 ? "" :
	    "s", r->threshold, st->mailed, st->already, st->failed)) !=
	    UC_OK ||
	    (rc = ucbuf_add(&r->msg, ucbuf_str(&r->sum),
	    ucbuf_len(&r->sum))) != UC_OK)
		return rc;
	if ((rc = send_buf(r->mailer, &r->msg)) != UC_OK)
		return uc_errprefix(rc, "admin summary");
	r->st->admin_mailed = 1;
	return UC_OK;
}

int
authority_notify(struct authority *a, const struct notify_opts *o,
    struct notify_stats *st)
{
	const struct ca_conf *conf = authority_conf(a);
	struct notify_run r;
	struct due_vec dv;
	struct store_user u;
	char when[32], days[24];
	int window, rc, sent;
	size_t i;

	memset(st, 0, sizeof(*st));
	memset(&dv, 0, sizeof(dv));
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.o = o;
	r.st = st;
	r.now = uc_now();
	r.from = conf->renew_from;
	ucbuf_init(&r.sum, 0, 0);
	ucbuf_init(&r.msg, 0, 1);	/* holds a link */
	window = o->window > 0 ? o->window : conf->renew_window;
	r.threshold = (window + 86399) / 86400;
	r.mailer = o->sendmail != NULL ? o->sendmail : conf->renew_sendmail !=
	    NULL ? conf->renew_sendmail : DEFAULT_SENDMAIL;
	r.admin = o->admin != NULL ? (o->admin[0] != '\0' ? o->admin : NULL) :
	    conf->renew_admin;
	if (r.admin != NULL && !address_ok(r.admin))
		return uc_seterr(UC_E_INVALID, "admin address '%s' is not a "
		    "plain user@domain", r.admin);
	if ((rc = tmpl_load(o->template_path, &r.t)) != UC_OK)
		return rc;
	if (!o->dry_run && (rc = authority_enroll_check(a)) != UC_OK)
		goto out;
	pthread_mutex_lock(&a->mu);
	rc = store_due_list(a->st, r.now, r.now + window, due_add, &dv);
	pthread_mutex_unlock(&a->mu);
	if (rc != UC_OK)
		goto out;
	for (i = 0; i < dv.n; i++) {
		const struct due_item *d = &dv.v[i];

		st->due++;
		memset(&u, 0, sizeof(u));
		pthread_mutex_lock(&a->mu);
		rc = store_reminder_sent(a->st, d->cert_id, r.threshold, &sent);
		if (rc == UC_OK && !sent)
			rc = store_user_get(a->st, d->username, &u);
		pthread_mutex_unlock(&a->mu);
		if (rc != UC_OK)
			goto out;
		if (sent) {
			st->already++;
			continue;
		}
		if (u.email == NULL || !address_ok(u.email)) {
			fail_user(o, st, &r.sum, d, u.email == NULL ? "no email "
			    "address on record" : "the email address on record "
			    "cannot be mailed");
			store_user_clear(&u);
			continue;
		}
		uc_time_iso(d->not_after, when, sizeof(when));
		snprintf(days, sizeof(days), "%lld", (long long)((d->not_after -
		    r.now + 86399) / 86400));
		if (o->dry_run) {
			st->mailed++;
			if (o->on_user != NULL)
				o->on_user(o->arg, d->username, u.email,
				    d->not_after);
		} else
			rc = notify_mail(&r, d, &u, when, days);
		store_user_clear(&u);
		if (rc != UC_OK)
			goto out;
	}
	rc = notify_summary(&r);
out:
	ucbuf_free(&r.msg);
	ucbuf_free(&r.sum);
	tmpl_clear(&r.t);
	due_vec_free(&dv);
	return rc;
}
