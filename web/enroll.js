/*
 * userca enrollment page.  Served by userca-enrolld at /static/enroll.js under
 * CSP "default-src 'self'": no inline code or styles, no outside resources,
 * no framework, no build step.
 *
 * GET  /api/v1/enroll/<token>      who the certificate is for, link expiry
 * POST /api/v1/enroll/<token>/p12  {p12_format, password?} -> {serial,
 *      not_after, p12_format, p12 (base64 DER), password (when generated)}
 * POST /api/v1/enroll/<token>/csr  PKCS#10 (application/pkcs10) -> PEM chain,
 *      serial in X-Userca-Serial
 * Errors: {"error": code, "detail": text}.
 */
(function () {
	'use strict';

	var PLATFORM_NAMES = {
		ios: 'iPhone / iPad',
		android: 'Android',
		windows: 'Windows',
		macos: 'macOS',
		linux: 'Linux',
		chromeos: 'ChromeOS'
	};
	/*
	 * Fail safe: the modern (AES) file only for a browser that is positively
	 * a Linux desktop.  Current iOS, macOS and Android still cannot read it,
	 * and ChromeOS and Android's "desktop site" look like Linux.
	 */
	var FORMAT_HINTS = {
		legacy: 'You get a legacy PKCS#12 file (3DES, SHA\u20111 MAC): current ' +
		    'iPhones, iPads, Macs and Android phones still need it, and every ' +
		    'Windows version opens it.',
		modern: 'You get a modern PKCS#12 file (AES\u2011256, SHA\u2011256 MAC): ' +
		    'Firefox, Chrome and other current Linux software read it. iPhones, ' +
		    'iPads, Macs and Android phones cannot open it.'
	};
	var NOT_LINUX_DESKTOP = ' This browser did not show that it runs on a ' +
	    'Linux desktop, so you get the format every device reads; choose ' +
	    'Modern under Advanced if the file is for a Linux desktop.';
	var FORMAT_NAMES = {
		legacy: 'legacy PKCS#12 (3DES)',
		modern: 'modern PKCS#12 (AES-256)'
	};
	var TOKEN_PROBLEMS = {
		token_expired: {
			title: 'This link has expired',
			text: 'Enrollment links work for a limited time only. Ask your ' +
			    'administrator for a new link.'
		},
		token_used: {
			title: 'This link was already used',
			text: 'Each enrollment link works once, and a certificate was ' +
			    'already issued with this one. If that was not you, tell your ' +
			    'administrator; otherwise ask for a new link if you need another ' +
			    'certificate.'
		},
		token_unknown: {
			title: 'Unknown enrollment link',
			text: 'This enrollment link is not valid. Check that you opened ' +
			    'the whole link as you received it, or ask your administrator ' +
			    'for a new one.'
		}
	};

	var $ = function (id) { return document.getElementById(id); };
	var token = '';
	var info = null;	/* the token's JSON */
	var busy = false;

	/* ---- small helpers ------------------------------------------------------------ */

	function show(el, on) {
		el.hidden = !on;
	}

	function setStatus(text, kind) {
		var s = $('status');

		s.textContent = text || '';
		s.className = 'notice' + (kind ? ' notice-' + kind : '');
		show(s, !!text);
		/* On a phone the form can be far below: bring an error into view. */
		if (text && kind === 'error' && s.scrollIntoView)
			s.scrollIntoView({ block: 'nearest' });
	}

	function formatTime(iso) {
		var d = new Date(iso);

		if (isNaN(d.getTime()))
			return iso;
		try {
			return d.toLocaleString(undefined, {
				dateStyle: 'medium', timeStyle: 'short'
			});
		} catch (e) {
			return d.toLocaleString();
		}
	}

	function setTime(el, iso) {
		el.setAttribute('datetime', iso);
		el.textContent = formatTime(iso);
	}

	/* A file name from the user name: no path separators or odd characters. */
	function safeName(user, ext) {
		var base = String(user || 'certificate').replace(/[^A-Za-z0-9._@+-]/g, '_')
		    .replace(/^\.+/, '');

		return (base || 'certificate') + ext;
	}

	function tokenFromPath() {
		var m = /\/enroll\/([^\/?#]+)\/?$/.exec(window.location.pathname);

		if (!m)
			return '';
		try {
			return decodeURIComponent(m[1]);
		} catch (e) {
			return '';
		}
	}

	function apiUrl(suffix) {
		return '/api/v1/enroll/' + encodeURIComponent(token) + (suffix || '');
	}

	/* The JSON error of a failed response, whatever the body was. */
	function readError(resp) {
		return resp.text().then(function (t) {
			var j = null;

			try {
				j = JSON.parse(t);
			} catch (e) { /* not JSON */ }
			if (!j || typeof j !== 'object')
				j = {};
			return {
				status: resp.status,
				error: typeof j.error === 'string' ? j.error : 'http_' + resp.status,
				detail: typeof j.detail === 'string' && j.detail ? j.detail :
				    'The server answered ' + resp.status + ' ' + (resp.statusText || '') + '.'
			};
		}, function () {
			return { status: resp.status, error: 'http_' + resp.status,
			    detail: 'The server answered ' + resp.status + '.' };
		});
	}

	function networkError(e) {
		return { status: 0, error: 'network',
		    detail: 'Could not reach the server. Check your connection and try again.' +
		    (e && e.message ? ' (' + e.message + ')' : '') };
	}

	/* Show only the "link cannot be used" message. */
	function showProblem(code) {
		var p = TOKEN_PROBLEMS[code] || TOKEN_PROBLEMS.token_unknown;

		['loading', 'enroll', 'done', 'csr-done'].forEach(function (id) {
			show($(id), false);
		});
		setStatus('');
		$('problem').setAttribute('data-error', code);
		$('problem-title').textContent = p.title;
		$('problem-text').textContent = p.text;
		show($('problem'), true);
		document.title = p.title;
		$('problem-title').focus();
	}

	/* An API error: token problems replace the page, the rest is announced. */
	function handleError(err) {
		if (TOKEN_PROBLEMS[err.error]) {
			showProblem(err.error);
			return;
		}
		setStatus(err.detail, 'error');
	}

	function download(blob, name, again) {
		var url = URL.createObjectURL(blob);
		var a = document.createElement('a');

		a.href = url;
		a.download = name;
		a.rel = 'noopener';
		a.className = 'offscreen';
		document.body.appendChild(a);
		a.click();
		document.body.removeChild(a);
		/* The "download again" link keeps the object URL alive. */
		again.href = url;
		again.setAttribute('download', name);
	}

	function base64ToBytes(b64) {
		var bin = window.atob(b64.replace(/\s+/g, ''));
		var out = new Uint8Array(bin.length);
		var i;

		for (i = 0; i < bin.length; i++)
			out[i] = bin.charCodeAt(i);
		return out;
	}

	function setBusy(button, on, text) {
		busy = on;
		button.disabled = on;
		button.setAttribute('aria-busy', on ? 'true' : 'false');
		if (on) {
			button.setAttribute('data-label', button.textContent);
			button.textContent = text;
		} else if (button.getAttribute('data-label')) {
			button.textContent = button.getAttribute('data-label');
		}
	}

	/* ---- device and format -------------------------------------------------------- */

	function isIos() {
		var ua = navigator.userAgent || '';

		/* iPadOS 13+ says "Macintosh" but has a touch screen. */
		return /iPhone|iPad|iPod/.test(ua) ||
		    (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
	}

	/* navigator.userAgentData (Chromium), believed over the user agent. */
	function clientHints() {
		var d = navigator.userAgentData;

		return d && typeof d.platform === 'string' ? d : null;
	}

	function detectPlatform() {
		var ua = navigator.userAgent || '';
		var ch = clientHints();
		var p = ch ? ch.platform : '';

		if (isIos())
			return 'ios';
		if (p === 'Android' || /Android/.test(ua))
			return 'android';
		if (p === 'Chrome OS' || p === 'ChromeOS' || /CrOS/.test(ua))
			return 'chromeos';
		if (p === 'Windows' || /Windows/.test(ua))
			return 'windows';
		if (p === 'macOS' || /Macintosh|Mac OS X/.test(ua))
			return 'macos';
		if (/Linux|X11|FreeBSD|OpenBSD/.test(ua))
			return 'linux';
		return 'windows';
	}

	/*
	 * Positively a Linux desktop: says Linux, not Android or ChromeOS, no
	 * touch screen (Android's "desktop site" sends a Linux user agent), and
	 * client hints, where the browser has them, say Linux and not mobile.
	 */
	function isLinuxDesktop() {
		var ua = navigator.userAgent || '';
		var ch = clientHints();

		if (detectPlatform() !== 'linux' || /Android|CrOS|Mobile/.test(ua))
			return false;
		if ((navigator.maxTouchPoints || 0) > 0)
			return false;
		if (ch && (ch.platform !== 'Linux' || ch.mobile !== false))
			return false;
		return true;
	}

	/*
	 * A browser that cannot take the certificate, or null.  On iOS only
	 * Safari (and Apple's own apps) can install an identity from a download
	 * and use it (Apple QA1745): Chrome, Firefox, Edge, the Google app and
	 * the in-app views of Gmail, Outlook and the rest cannot.  An in-app view
	 * on iOS is a WKWebView, whose user agent has no "Safari/" token.  On
	 * Android an in-app view (WebView, "; wv)") usually cannot save the file.
	 */
	var IOS_APPS = [
		[/CriOS\//, 'Chrome'], [/FxiOS\//, 'Firefox'], [/EdgiOS\//, 'Edge'],
		[/OPiOS\/|OPT\//, 'Opera'], [/YaBrowser\//, 'Yandex Browser'],
		[/DuckDuckGo\//, 'DuckDuckGo'], [/Brave\//, 'Brave'],
		[/GSA\/|GoogleApp/, 'the Google app or Gmail'],
		[/Outlook|MSOutlook/i, 'Outlook'], [/Gmail/i, 'Gmail'],
		[/FBAN|FBAV|FB_IAB/, 'Facebook'], [/Instagram/, 'Instagram'],
		[/LinkedInApp/, 'LinkedIn'], [/MicroMessenger/, 'WeChat'],
		[/\bLine\//, 'LINE'], [/Teams\//, 'Teams'], [/Slack/, 'Slack']
	];
	var ANDROID_APPS = [
		[/GSA\/|GoogleApp/, 'the Google app or Gmail'],
		[/Outlook/i, 'Outlook'], [/Gmail/i, 'Gmail'],
		[/FBAN|FBAV|FB_IAB/, 'Facebook'], [/Instagram/, 'Instagram'],
		[/LinkedInApp/, 'LinkedIn'], [/\bLine\//, 'LINE'],
		[/MicroMessenger/, 'WeChat']
	];

	function appName(list, ua) {
		var i;

		for (i = 0; i < list.length; i++)
			if (list[i][0].test(ua))
				return list[i][1];
		return '';
	}

	function wrongBrowser() {
		var ua = navigator.userAgent || '';
		var app;

		if (isIos()) {
			app = appName(IOS_APPS, ua);
			if (app || !/Safari\//.test(ua))
				return { platform: 'ios', want: 'Safari', app: app };
			return null;
		}
		if (/Android/.test(ua) && /; wv\)|FBAN|FBAV|Instagram/.test(ua))
			return { platform: 'android', want: 'Chrome',
			    app: appName(ANDROID_APPS, ua) };
		return null;
	}

	function selectedPlatform() {
		var r = document.querySelector('input[name="device"]:checked');

		return r ? r.value : detectPlatform();
	}

	function selectedFormat() {
		var f = $('p12-format').value;

		if (f === 'legacy' || f === 'modern')
			return f;
		return selectedPlatform() === 'linux' && isLinuxDesktop() ?
		    'modern' : 'legacy';
	}

	function updateHint() {
		var f = selectedFormat();
		var forced = $('p12-format').value !== 'auto';

		$('format-hint').textContent = FORMAT_HINTS[f] +
		    (forced ? ' (Chosen under Advanced.)' :
		    selectedPlatform() === 'linux' && f === 'legacy' ?
		    NOT_LINUX_DESKTOP : '');
		$('format-hint').setAttribute('data-format', f);
		showApps(selectedPlatform());
		show($('profile-box'), selectedPlatform() === 'ios' ||
		    selectedPlatform() === 'macos');
		/* The SCEP profile (GET): the key is made on the device. */
		show($('scep-box'), selectedPlatform() === 'ios' ||
		    selectedPlatform() === 'macos');
		$('scep-profile').setAttribute('href', apiUrl('/mobileconfig'));
	}

	/* Which apps can use it, for that device: on the form and the result. */
	function showApps(platform) {
		var blocks = document.querySelectorAll('#apps-info .apps');
		var i, copy;

		for (i = 0; i < blocks.length; i++) {
			show(blocks[i], blocks[i].getAttribute('data-platform') === platform);
			if (blocks[i].getAttribute('data-platform') === platform) {
				copy = blocks[i].cloneNode(true);
				copy.hidden = false;
				$('apps-done').textContent = '';
				$('apps-done').appendChild(copy);
			}
		}
	}

	/* ---- the token ------------------------------------------------------------------ */

	function pageTitle() {
		return info && info.renewal ? 'Renew your certificate' : 'Get your certificate';
	}

	/* A renewal link says so, and what becomes of the certificate it replaces. */
	function showRenewal(rn) {
		show($('renewal'), !!rn);
		if (!rn)
			return;
		$('title').textContent = 'Renew your certificate';
		setTime($('renewal-expires'), rn.not_after);
		$('renewal-old').textContent = rn.revokes_old ?
		    'The old certificate stops working as soon as you get the new one.' :
		    'The old certificate keeps working until then.';
	}

	function showInfo(j) {
		var radios = document.querySelectorAll('input[name="device"]');
		var platform = detectPlatform();
		var i;

		info = j;
		$('who-user').textContent = j.user;
		$('who-name').textContent = j.name || '';
		$('who-email').textContent = j.email || '';
		show($('who-name-row'), !!j.name);
		show($('who-email-row'), !!j.email);
		setTime($('who-expires'), j.expires);
		showRenewal(j.renewal);
		for (i = 0; i < radios.length; i++)
			radios[i].checked = radios[i].value === platform;
		/* Formats the server does not offer cannot be forced. */
		if (Array.isArray(j.p12_formats)) {
			Array.prototype.forEach.call($('p12-format').options, function (o) {
				o.disabled = o.value !== 'auto' && j.p12_formats.indexOf(o.value) < 0;
			});
		}
		updateHint();
		show($('loading'), false);
		show($('enroll'), true);
		document.title = pageTitle() + ': ' + j.user;
		if (wrongBrowser())
			showWrongBrowser(wrongBrowser());
	}

	/* ---- the wrong browser: send the user to Safari / Chrome first -------------- */

	function showWrongBrowser(w) {
		var here = w.app ? w.app : 'this app';

		$('wrong-title').textContent = 'Open this link in ' + w.want;
		if (w.platform === 'ios') {
			$('wrong-why').textContent = 'On an iPhone or iPad only Safari can ' +
			    'install your certificate and use it (with Apple\u2019s own apps). ' +
			    'Opened in ' + here + ', it would not install or could not be ' +
			    'used, and this link works only once.';
			$('wrong-how').textContent = 'Tap Copy link, open Safari, tap the ' +
			    'address bar, paste and go. Some apps also offer \u201cOpen in ' +
			    'Safari\u201d in their \u22ef or share menu.';
		} else {
			$('wrong-why').textContent = 'This page is open inside ' + here +
			    '. Its built-in browser usually cannot save the certificate ' +
			    'file, and this link works only once.';
			$('wrong-how').textContent = 'Tap Copy link, open Chrome (or ' +
			    'another browser such as Samsung Internet), tap the address ' +
			    'bar, paste and go. Many apps also offer \u201cOpen in ' +
			    'Chrome\u201d or \u201cOpen in browser\u201d in their \u22ee menu.';
		}
		$('wrong-browser').setAttribute('data-want', w.want.toLowerCase());
		$('wrong-url').value = window.location.href;
		show($('p12-form'), false);
		show($('csr-path'), false);
		show($('wrong-browser'), true);
		document.title = 'Open this link in ' + w.want;
	}

	function continueAnyway() {
		show($('wrong-browser'), false);
		show($('p12-form'), true);
		show($('csr-path'), true);
		document.title = pageTitle() + ': ' + info.user;
		$('get-p12').focus();
	}

	function copyLink() {
		var input = $('wrong-url');
		var button = $('copy-link');

		function copied() {
			button.textContent = 'Link copied';
			setStatus('The link was copied. Now open it in ' +
			    ($('wrong-browser').getAttribute('data-want') === 'safari' ?
			    'Safari' : 'Chrome') + '.', 'info');
		}
		function fallback() {
			var ok = false;

			input.focus();
			input.select();
			input.setSelectionRange(0, input.value.length);
			try {
				ok = document.execCommand('copy');
			} catch (e) { /* not supported */ }
			if (ok)
				copied();
			else
				setStatus('The link is selected: copy it with your ' +
				    'device\'s Copy menu.', 'info');
		}

		if (navigator.clipboard && navigator.clipboard.writeText)
			navigator.clipboard.writeText(input.value).then(copied, fallback);
		else
			fallback();
	}

	function loadToken() {
		token = tokenFromPath();
		if (!/^[A-Za-z0-9_-]{8,128}$/.test(token)) {
			showProblem('token_unknown');
			return;
		}
		fetch(apiUrl(), {
			method: 'GET',
			headers: { 'Accept': 'application/json' },
			cache: 'no-store',
			credentials: 'same-origin'
		}).then(function (resp) {
			if (!resp.ok)
				return readError(resp).then(function (err) {
					if (TOKEN_PROBLEMS[err.error]) {
						showProblem(err.error);
					} else {
						$('loading').firstElementChild.textContent =
						    'This enrollment link cannot be checked right now.';
						setStatus(err.detail, 'error');
					}
				});
			return resp.json().then(showInfo);
		}).catch(function (e) {
			$('loading').firstElementChild.textContent =
			    'This enrollment link cannot be checked right now.';
			setStatus(networkError(e).detail, 'error');
		});
	}

	/* ---- PKCS#12 ---------------------------------------------------------------------- */

	function showSteps(platform, name) {
		var lists = document.querySelectorAll('#done .steps');
		var i;

		for (i = 0; i < lists.length; i++)
			show(lists[i], lists[i].getAttribute('data-platform') === platform);
		$('steps-platform').textContent = PLATFORM_NAMES[platform];
		$('apps-platform').textContent = PLATFORM_NAMES[platform];
		$('steps-device').value = platform;
		showApps(platform);
		Array.prototype.forEach.call(document.querySelectorAll('#done .filename'),
		    function (el) { el.textContent = name; });
	}

	/* "Show steps for another device": a modern file does not open there. */
	function otherDevice() {
		var platform = $('steps-device').value;
		var format = $('done').getAttribute('data-format');

		showSteps(platform, safeName(info.user, '.p12'));
		$('steps-device-note').textContent = format === 'modern' &&
		    platform !== 'linux' && platform !== 'windows' ?
		    'This file is in the modern format, which ' +
		    PLATFORM_NAMES[platform] + ' cannot open: ask your administrator ' +
		    'for a new link and choose Legacy under Advanced.' : '';
	}

	/*
	 * The retry window: the first answer's secret, kept by this page only,
	 * fetches the other format (or the profile) once; the first
	 * certificate is then revoked.
	 */
	var retry = null;

	function p12Done(j, platform, ownPassword) {
		var profile = !!j.mobileconfig;
		var name = safeName(info.user, profile ? '.mobileconfig' : '.p12');
		var bytes = base64ToBytes(profile ? j.mobileconfig : j.p12);

		download(new Blob([bytes], { type: profile ?
		    'application/x-apple-aspen-config' : 'application/x-pkcs12' }),
		    name, $('again-p12'));
		retry = j.retry ? { secret: j.retry, until: j.retry_until,
		    format: j.p12_format, platform: platform } : null;
		show($('retry-box'), !!retry);
		if (retry)
			setTime($('retry-until'), retry.until);
		show($('enroll'), false);
		setStatus('');
		if (j.password) {
			$('pw').textContent = j.password;
			$('pw-spelled').textContent = spell(j.password);
			show($('pw-box'), true);
			show($('pw-own'), false);
		} else {
			show($('pw-box'), false);
			show($('pw-own'), ownPassword);
		}
		$('done-serial').textContent = j.serial;
		setTime($('done-until'), j.not_after);
		$('done-format').textContent = FORMAT_NAMES[j.p12_format] || j.p12_format;
		$('done').setAttribute('data-format', j.p12_format);
		showSteps(platform, name);
		show($('done'), true);
		document.title = 'Your certificate is ready';
		$('done-title').focus();
	}

	function submitP12(ev, route) {
		var button = route === '/mobileconfig' ? $('get-profile') : $('get-p12');
		var pw = $('own-password').value;
		var platform = selectedPlatform();
		var body = route === '/mobileconfig' ? {} :
		    { p12_format: selectedFormat() };

		ev.preventDefault();
		if (busy)
			return;
		if (pw.length > 0 && pw.length < 8) {
			setStatus('Your own password needs at least 8 characters, or leave ' +
			    'the field empty to get a generated one.', 'error');
			$('own-password').setAttribute('aria-invalid', 'true');
			$('own-password').focus();
			return;
		}
		$('own-password').removeAttribute('aria-invalid');
		if (pw.length > 0)
			body.password = pw;
		setBusy(button, true, 'Creating your certificate\u2026');
		setStatus('Creating your certificate. This can take a few seconds.', 'info');
		fetch(apiUrl(route || '/p12'), {
			method: 'POST',
			headers: { 'Content-Type': 'application/json',
			    'Accept': 'application/json' },
			body: JSON.stringify(body),
			cache: 'no-store',
			credentials: 'same-origin'
		}).then(function (resp) {
			if (!resp.ok)
				return readError(resp).then(handleError);
			return resp.json().then(function (j) {
				$('own-password').value = '';
				p12Done(j, platform, pw.length > 0);
			});
		}).catch(function (e) {
			handleError(networkError(e));
		}).then(function () {
			setBusy(button, false);
		});
	}

	/* The second try: the other format, a new password, once. */
	function retryOther() {
		var button = $('retry');
		var r = retry;

		if (busy || r === null)
			return;
		setBusy(button, true, 'Creating it again\u2026');
		setStatus('Creating your certificate again in the other format.', 'info');
		fetch(apiUrl('/p12'), {
			method: 'POST',
			headers: { 'Content-Type': 'application/json',
			    'Accept': 'application/json', 'X-Userca-Retry': r.secret },
			body: JSON.stringify({ p12_format: r.format === 'legacy' ?
			    'modern' : 'legacy' }),
			cache: 'no-store',
			credentials: 'same-origin'
		}).then(function (resp) {
			if (!resp.ok)
				return readError(resp).then(handleError);
			return resp.json().then(function (j) {
				p12Done(j, r.platform, false);
			});
		}).catch(function (e) {
			handleError(networkError(e));
		}).then(function () {
			setBusy(button, false);
		});
	}

	/* The password for a screen reader, one character at a time. */
	function spell(pw) {
		var names = { '-': 'dash', '_': 'underscore', '.': 'dot', ' ': 'space' };

		return 'Password, character by character: ' +
		    Array.prototype.map.call(pw, function (c) {
			if (names[c])
				return names[c];
			if (/[A-Z]/.test(c))
				return 'capital ' + c;
			return c;
		    }).join(', ') + '.';
	}

	/* ---- copy the password ------------------------------------------------------------- */

	function selectPassword() {
		var range = document.createRange();
		var sel = window.getSelection();

		range.selectNodeContents($('pw'));
		sel.removeAllRanges();
		sel.addRange(range);
	}

	function copyPassword() {
		var text = $('pw').textContent;
		var button = $('copy-pw');

		function copied() {
			button.textContent = 'Copied';
			setStatus('The password was copied to the clipboard.', 'info');
		}
		function fallback() {
			var ok = false;

			selectPassword();
			try {
				ok = document.execCommand('copy');
			} catch (e) { /* not supported */ }
			if (ok)
				copied();
			else
				setStatus('The password is selected: copy it with Ctrl+C ' +
				    '(\u2318C on a Mac) or your device\'s Copy menu.', 'info');
		}

		if (navigator.clipboard && navigator.clipboard.writeText)
			navigator.clipboard.writeText(text).then(copied, fallback);
		else
			fallback();
	}

	/* ---- own CSR ------------------------------------------------------------------------- */

	function csrBody() {
		var text = $('csr-text').value.trim();
		var files = $('csr-file').files;

		if (text)
			return Promise.resolve(text + '\n');
		if (files && files.length > 0) {
			if (files[0].size > 64 * 1024)
				return Promise.reject(new Error('That file is too large to be a certificate request.'));
			return files[0].arrayBuffer();
		}
		return Promise.reject(new Error('Paste your certificate request or choose its file first.'));
	}

	function submitCsr(ev) {
		var button = $('send-csr');

		ev.preventDefault();
		if (busy)
			return;
		csrBody().then(function (body) {
			setBusy(button, true, 'Signing\u2026');
			setStatus('Signing your request\u2026', 'info');
			return fetch(apiUrl('/csr'), {
				method: 'POST',
				headers: { 'Content-Type': 'application/pkcs10',
				    'Accept': 'application/x-pem-file' },
				body: body,
				cache: 'no-store',
				credentials: 'same-origin'
			}).then(function (resp) {
				if (!resp.ok)
					return readError(resp).then(handleError);
				return resp.text().then(function (pem) {
					var name = safeName(info.user, '.pem');

					download(new Blob([pem], { type: 'application/x-pem-file' }),
					    name, $('again-pem'));
					$('csr-serial').textContent =
					    resp.headers.get('X-Userca-Serial') || '(not given)';
					$('csr-done').querySelector('.filename-pem').textContent = name;
					show($('enroll'), false);
					setStatus('');
					show($('csr-done'), true);
					document.title = 'Your certificate is ready';
					$('csr-done-title').focus();
				});
			}, function (e) {
				handleError(networkError(e));
			}).then(function () {
				setBusy(button, false);
			});
		}, function (e) {
			setStatus(e.message, 'error');
		});
	}

	/* ---- wiring ------------------------------------------------------------------------- */

	function init() {
		var radios = document.querySelectorAll('input[name="device"]');
		var i;

		for (i = 0; i < radios.length; i++)
			radios[i].addEventListener('change', updateHint);
		$('p12-format').addEventListener('change', updateHint);
		$('p12-form').addEventListener('submit', function (ev) {
			submitP12(ev, '/p12');
		});
		$('get-profile').addEventListener('click', function (ev) {
			submitP12(ev, '/mobileconfig');
		});
		$('scep-profile').addEventListener('click', function () {
			$('scep-profile').setAttribute('href', apiUrl('/mobileconfig'));
		});
		$('retry').addEventListener('click', retryOther);
		$('csr-form').addEventListener('submit', submitCsr);
		$('copy-pw').addEventListener('click', copyPassword);
		$('copy-link').addEventListener('click', copyLink);
		$('steps-device').addEventListener('change', otherDevice);
		$('wrong-anyway').addEventListener('click', continueAnyway);
		$('pw').addEventListener('click', selectPassword);
		$('csr-file').addEventListener('change', function () {
			if ($('csr-file').files.length > 0)
				$('csr-text').value = '';
		});
		loadToken();
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', init);
	else
		init();
}());
