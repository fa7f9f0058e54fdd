// Drives Debian's headless Chromium (through playwright-core) over the
// enrollment page that userca-enrolld serves.  Run by it_web_chromium.sh:
//
//   node web_e2e.mjs CONFIG.json
//
// CONFIG: { "chromium": "/usr/bin/chromium", "out": DIR, "modules": [DIR...],
//           "urls": { "p12", "keyboard", "csr", "own", "look", "bogus",
//                     "malformed", "expired" }, "csr_pem": FILE }
// "look" is opened by every emulated device and never used (the shell checks
// the database).
// Prints PASS:/FAIL: lines; writes DIR/result.json with what the shell checks
// with openssl (downloaded files, passwords shown on the page).  Exit status 0
// when it ran to the end (the FAIL lines count), 1 when it could not.

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cfg.out;
const result = { screenshots: [] };
let failed = 0;

function pass(msg) { console.log(`PASS: ${msg}`); }
function bad(msg) { failed++; console.log(`FAIL: ${msg}`); }
function check(ok, msg, why) { if (ok) pass(msg); else bad(why ? `${msg} (${why})` : msg); }

// playwright-core from the first folder that has it (tests/integration/node_modules,
// the build dir, ...), else wherever node finds it.
function loadPlaywright() {
	for (const dir of cfg.modules || []) {
		if (existsSync(path.join(dir, 'node_modules', 'playwright-core', 'package.json'))) {
			return createRequire(path.join(dir, 'x.js'))('playwright-core');
		}
	}
	return createRequire(import.meta.url)('playwright-core');
}

const VIEW = { width: 390, height: 844 };
const T = 15000;	// per wait; the whole run stays well under a minute

async function shot(page, name) {
	const file = path.join(out, name);
	await page.screenshot({ path: file, fullPage: true });
	result.screenshots.push(file);
	console.log(`screenshot: ${file}`);
}

// Everything a page did wrong that a person would not see: CSP violations,
// script errors, failed requests to other origins.
function watch(page, label) {
	const problems = [];
	page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[0134]/.test(m.text()))
			problems.push(`console error: ${m.text()}`);
	});
	page.on('request', (r) => {
		const u = new URL(r.url());
		if (u.protocol !== 'blob:' && u.protocol !== 'data:' && u.origin !== new URL(cfg.urls.p12).origin)
			problems.push(`request to another origin: ${r.url()}`);
	});
	return async () => {
		const csp = await page.evaluate(() => window.__cspViolations || []).catch(() => []);
		for (const v of csp) problems.push(`CSP violation: ${v}`);
		check(problems.length === 0, `${label}: no CSP violations, script errors or outside requests`,
		    problems.join('; '));
	};
}

// axe-core (npm) on the page as it is now: WCAG 2.0/2.1 A and AA, no violations.
// Evaluated through the DevTools protocol, so the page's CSP does not block it.
let axeSource = null;
function loadAxe() {
	if (axeSource !== null) return axeSource;
	for (const dir of [...(cfg.modules || []), path.dirname(new URL(import.meta.url).pathname)]) {
		const f = path.join(dir, 'node_modules', 'axe-core', 'axe.min.js');
		if (existsSync(f)) return (axeSource = readFileSync(f, 'utf8'));
	}
	return (axeSource = '');
}
const axeStates = [];
async function a11y(page, label) {
	const src = loadAxe();
	if (!src) { bad(`${label}: axe-core is not installed (npm ci --prefix tests/integration)`); return; }
	if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(src);
	const r = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
		resultTypes: ['violations'],
	}));
	axeStates.push(label);
	check(r.violations.length === 0, `axe-core (WCAG 2.1 A/AA): ${label}: no violations`,
	    r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)
	        .join('; '));
}

async function ready(page) {
	await page.waitForFunction(() => !document.getElementById('enroll').hidden ||
	    !document.getElementById('problem').hidden, null, { timeout: T });
}

async function noSideScroll(page, label) {
	const w = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
	check(w[0] <= w[1], `${label}: fits a 390px wide screen (no sideways scrolling)`, `scrollWidth ${w[0]} > ${w[1]}`);
}

// ---- device emulation -------------------------------------------------------------
// User agents as the devices send them, and the client hints (userAgentData)
// of the Chromium-based ones, set through CDP Emulation.setUserAgentOverride.
// Safari and the iOS apps have no navigator.userAgentData: it is removed.
const IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const CH = (platform, mobile, extra = {}) => ({
	brands: [{ brand: 'Chromium', version: '126' }, { brand: 'Google Chrome', version: '126' },
	    { brand: 'Not/A)Brand', version: '8' }],
	fullVersion: '126.0.6478.71', platform, platformVersion: extra.platformVersion || '',
	architecture: extra.architecture || '', model: extra.model || '', mobile, ...extra,
});
const DEVICES = [
	{ name: 'iOS Safari', ua: `${IOS} Version/17.5 Mobile/15E148 Safari/604.1`, touch: 5,
	    device: 'ios', format: 'legacy' },
	{ name: 'iPadOS Safari (desktop-class, says Macintosh)', touch: 5,
	    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
	    device: 'ios', format: 'legacy' },
	{ name: 'iOS Chrome (CriOS)', ua: `${IOS} CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1`, touch: 5,
	    wrong: 'Safari', app: /Chrome/ },
	{ name: 'iOS Firefox (FxiOS)', ua: `${IOS} FxiOS/127.0 Mobile/15E148 Safari/605.1.15`, touch: 5,
	    wrong: 'Safari', app: /Firefox/ },
	{ name: 'iOS Edge (EdgiOS)', ua: `${IOS} Version/17.0 EdgiOS/126.2592.56 Mobile/15E148 Safari/605.1.15`, touch: 5,
	    wrong: 'Safari', app: /Edge/ },
	{ name: 'Gmail / Google app in-app view on iOS (GSA)', ua: `${IOS} GSA/322.0.648915268 Mobile/15E148 Safari/604.1`,
	    touch: 5, wrong: 'Safari', app: /Gmail/ },
	{ name: 'Outlook in-app view on iOS (WKWebView, no Safari/ token)', ua: `${IOS} Mobile/15E148`, touch: 5,
	    wrong: 'Safari', app: /this app/ },
	{ name: 'Android Chrome', ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
	    ch: CH('Android', true, { platformVersion: '14.0.0', model: 'Pixel 8' }), touch: 5,
	    device: 'android', format: 'legacy' },
	{ name: 'Android WebView in-app view (; wv)', touch: 5,
	    ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36',
	    ch: CH('Android', true, { brands: [{ brand: 'Android WebView', version: '126' }, { brand: 'Chromium', version: '126' }] }),
	    wrong: 'Chrome', app: /this app/ },
	{ name: 'Android Chrome, desktop site (says Linux; client hints say Android)', touch: 5,
	    ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
	    ch: CH('Android', false), device: 'android', format: 'legacy' },
	{ name: 'Android, desktop site without client hints (Linux UA, touch screen)', touch: 5, noCH: true,
	    ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
	    device: 'linux', format: 'legacy' },
	{ name: 'ChromeOS', ua: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
	    ch: CH('Chrome OS', false), touch: 0, device: 'chromeos', format: 'legacy' },
	{ name: 'Windows (Edge)', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
	    ch: CH('Windows', false, { platformVersion: '15.0.0' }), touch: 0, device: 'windows', format: 'legacy' },
	{ name: 'macOS Safari', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
	    touch: 0, device: 'macos', format: 'legacy' },
	{ name: 'Linux desktop (Chromium)', ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
	    ch: CH('Linux', false), touch: 0, device: 'linux', format: 'modern' },
];

// What "Which apps can use the certificate?" must say per device.
const APPS = {
	ios: [/Safari.*yes/, /Mail.*configuration profile/s, /Exchange profile/, /Outlook.*Gmail.*no/s],
	android: [/Chrome.*yes/, /Samsung Email.*certificate/s, /Gmail.*Nine.*manages/s, /Outlook.*no.*Microsoft/s],
	windows: [/Edge.*Chrome.*yes/s, /Firefox.*own store/s],
	macos: [/login keychain/, /Firefox.*own store/s, /Exchange profile/],
	linux: [/each one you use/, /Firefox/],
	chromeos: [/Chrome/],
};

// A page that looks like DEVICE d: user agent, client hints (or none), touch points.
async function emulate(browser, d, opts = {}) {
	const context = await browser.newContext({
		viewport: VIEW, acceptDownloads: true, ignoreHTTPSErrors: true, locale: 'en-GB',
		timezoneId: 'UTC', userAgent: d.ua, hasTouch: d.touch > 0, ...opts,
	});
	context.setDefaultTimeout(T);
	const origin = new URL(cfg.urls.p12).origin;
	await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin }).catch(() => {});
	await context.addInitScript(({ touch, noCH }) => {
		Object.defineProperty(Navigator.prototype, 'maxTouchPoints', { get: () => touch, configurable: true });
		if (noCH) delete Navigator.prototype.userAgentData;
	}, { touch: d.touch || 0, noCH: !d.ch });
	const page = await context.newPage();
	if (d.ch) {
		const cdp = await context.newCDPSession(page);
		await cdp.send('Emulation.setUserAgentOverride', { userAgent: d.ua, userAgentMetadata: d.ch });
	}
	return { context, page };
}

async function devices(browser) {
	for (const d of DEVICES) {
		const { context, page } = await emulate(browser, d);
		const done = watch(page, d.name);
		try {
			await page.goto(cfg.urls.look);
			await ready(page);
			if (d.ch) {
				const p = await page.evaluate(() => navigator.userAgentData && navigator.userAgentData.platform);
				check(p === d.ch.platform, `${d.name}: client hints are emulated`, `userAgentData.platform ${p}`);
			}
			if (d.wrong) {
				const title = await page.locator('#wrong-title').innerText().catch(() => '');
				const why = await page.locator('#wrong-browser').innerText().catch(() => '');
				check(await page.locator('#wrong-browser').isVisible() && title === `Open this link in ${d.wrong}`,
				    `${d.name}: says "Open this link in ${d.wrong}"`, title || 'no wrong-browser notice');
				check(d.app.test(why), `${d.name}: names the app it is in`, why.slice(0, 200));
				check(await page.locator('#get-p12').isHidden() && await page.locator('#p12-form').isHidden() &&
				    await page.locator('#csr-path').isHidden(), `${d.name}: no enrollment button, no CSR form`);
				await page.getByRole('button', { name: 'Copy link' }).click();
				const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `(${e.message})`);
				check(clip === cfg.urls.look, `${d.name}: "Copy link" copies this page's link`, clip);
				if (d === DEVICES.find((x) => x.wrong)) await shot(page, 'web-enroll-wrong-browser.png');
				if (d === DEVICES.find((x) => x.wrong) || d === DEVICES.find((x) => x.wrong === 'Chrome'))
					await a11y(page, `wrong browser: ${d.name}`);
			} else {
				check(await page.locator('#wrong-browser').isHidden() && await page.locator('#get-p12').isVisible(),
				    `${d.name}: the enrollment button is offered`);
				const dev = await page.locator('input[name="device"]:checked').getAttribute('value').catch(() => null);
				check(dev === d.device, `${d.name}: device pre-selected as ${d.device}`, `got ${dev}`);
				const fmt = await page.locator('#format-hint').getAttribute('data-format');
				check(fmt === d.format, `${d.name}: ${d.format} format`, `got ${fmt}`);
				const hint = await page.locator('#format-hint').innerText();
				check(d.format === 'modern' ? /Linux/.test(hint) && /cannot open it/.test(hint) :
				    /iPhones, iPads, Macs and Android phones still need it/.test(hint) &&
				    (d.device !== 'linux' || /did not show that it runs on a Linux desktop/.test(hint)),
				    `${d.name}: the hint says why`, hint);
				await page.getByText('Which apps can use the certificate?').click();
				const apps = await page.locator('#apps-info .apps:visible').allInnerTexts();
				check(apps.length === 1 && APPS[d.device].every((re) => re.test(apps[0])),
				    `${d.name}: says which apps can use it`, apps.join(' | ').slice(0, 300));
			}
			await done();
		} finally {
			await context.close();
		}
	}
	// An iPhone in Safari gets its certificate: legacy, and the iOS steps.
	if (cfg.urls.ios) {
		const { context, page } = await emulate(browser, DEVICES[0]);
		const done = watch(page, 'iOS Safari enrollment');
		try {
			await page.goto(cfg.urls.ios);
			await ready(page);
			// The SCEP profile is offered beside the .p12 (DESIGN 22).
			const scep = page.locator('#scep-profile');
			check(await scep.isVisible() && /\/api\/v1\/enroll\/[^/]+\/mobileconfig$/.test(
			    await scep.getAttribute('href')), 'iOS: "Install a profile" (SCEP) offered, pointing at GET mobileconfig');
			const [dl] = await Promise.all([page.waitForEvent('download'),
			    page.getByRole('button', { name: 'Get my certificate' }).click()]);
			result.ios_p12 = path.join(out, 'ios.p12');
			await dl.saveAs(result.ios_p12);
			await page.locator('#done').waitFor({ state: 'visible' });
			result.ios_password = (await page.locator('#pw').innerText()).trim();
			const steps = await page.locator('#done ol.steps:visible').innerText();
			check(/within 8 minutes/i.test(steps) && /Profile Downloaded/.test(steps) &&
			    /General → VPN & Device Management/.test(steps) && /Not Verified.*expected/s.test(steps) &&
			    /including the dashes/.test(steps), 'iOS steps: 8 minutes, both Settings places, "Not Verified" expected, dashes',
			    steps);
			const mac = await page.locator('#done ol.steps[data-platform="macos"]').textContent();
			check(/login keychain password/.test(mac) && /Always Allow/.test(mac) && /Firefox keeps its own/.test(mac),
			    'macOS steps: login keychain password, Always Allow, Firefox\'s own store', mac);
			await shot(page, 'web-enroll-ios-done.png');
			await a11y(page, 'iOS result');
			await done();
		} finally {
			await context.close();
		}
	}

	// "Continue in this app anyway" brings the form back (nothing is sent).
	const { context, page } = await emulate(browser, DEVICES.find((x) => x.wrong === 'Chrome'));
	try {
		await page.goto(cfg.urls.look);
		await ready(page);
		await page.getByRole('button', { name: 'Continue in this app anyway' }).click();
		check(await page.locator('#get-p12').isVisible() && await page.locator('#wrong-browser').isHidden(),
		    '"Continue in this app anyway" shows the form');
	} finally {
		await context.close();
	}
}

async function main() {
	let pw;
	try {
		pw = loadPlaywright();
	} catch (e) {
		console.log(`FAIL: playwright-core is not installed (npm ci --prefix tests/integration): ${e.message}`);
		process.exit(1);
	}
	const browser = await pw.chromium.launch({
		executablePath: cfg.chromium,
		headless: true,
		timeout: 30000,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
		    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
		    '--ignore-certificate-errors', '--disable-dev-shm-usage'],
	});
	try {
		const context = await browser.newContext({
			viewport: VIEW, acceptDownloads: true, ignoreHTTPSErrors: true, locale: 'en-GB',
			timezoneId: 'UTC',
		});
		context.setDefaultTimeout(T);
		await context.addInitScript(() => {
			window.__cspViolations = [];
			document.addEventListener('securitypolicyviolation', (e) => {
				window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
			});
		});
		const origin = new URL(cfg.urls.p12).origin;
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin }).catch(() => {});

		// ---- 1. server-made key, Android (legacy PKCS#12), by mouse ----------------
		let page = await context.newPage();
		let done = watch(page, 'p12 page');
		const resp = await page.goto(cfg.urls.p12);
		const h = resp.headers();
		check(/default-src 'self'/.test(h['content-security-policy'] || ''), 'page is served with the CSP',
		    h['content-security-policy']);
		await ready(page);
		const who = await page.locator('#enroll').innerText();
		check(who.includes('alice') && who.includes('Alice Adams') && who.includes('alice@example.com'),
		    'page shows user, name and email', who.slice(0, 200));
		check((await page.locator('#who-expires').getAttribute('datetime') || '').length > 0 &&
		    (await page.locator('#who-expires').innerText()).length > 0, 'page shows until when the link is valid');
		const pre = await page.locator('input[name="device"]:checked').getAttribute('value');
		check(pre === 'linux', 'device chooser pre-selected from the user agent (Linux)', `got ${pre}`);
		check(await page.locator('#format-hint').getAttribute('data-format') === 'modern',
		    'Linux means the modern format');
		await noSideScroll(page, 'form');
		await page.getByText('Which apps can use the certificate?').click();
		await page.getByText('Advanced: file format').click();
		await a11y(page, 'form (Linux desktop, details open)');
		await page.emulateMedia({ colorScheme: 'dark' });
		await a11y(page, 'form, dark mode');
		await page.emulateMedia({ colorScheme: 'light' });
		await page.getByText('Advanced: file format').click();
		await page.getByText('Which apps can use the certificate?').click();
		await page.getByLabel('Android').check();
		check(await page.locator('#format-hint').getAttribute('data-format') === 'legacy' &&
		    /legacy/i.test(await page.locator('#format-hint').innerText()),
		    'choosing Android switches to legacy and says why');
		await shot(page, 'web-enroll-form.png');
		const [dl] = await Promise.all([
			page.waitForEvent('download'),
			page.getByRole('button', { name: 'Get my certificate' }).click(),
		]);
		check(dl.suggestedFilename() === 'alice.p12', 'download is named alice.p12', dl.suggestedFilename());
		result.p12 = path.join(out, 'alice.p12');
		await dl.saveAs(result.p12);
		await page.locator('#done').waitFor({ state: 'visible' });
		result.password = (await page.locator('#pw').innerText()).trim();
		check(result.password.length >= 12, 'the generated password is shown', `"${result.password}"`);
		const fs = await page.locator('#pw').evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
		check(fs >= 19, 'the password is big', `${fs}px`);
		const pwLines = await page.locator('#pw').evaluate((e) =>
		    Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)));
		check(pwLines === 1, 'the password fits on one line', `${pwLines} lines`);
		const steps = await page.locator('#done ol.steps:visible').innerText();
		check(/VPN & app user certificate/.test(steps) && steps.includes('alice.p12'),
		    'Android import steps are shown', steps.slice(0, 200));
		check(/search for certificate/.test(steps) && /Install from device storage/.test(steps) &&
		    /never Wi-Fi certificate/.test(steps) && /User credentials.*Remove/s.test(steps) &&
		    /screen lock/.test(steps) && /including the dashes/.test(steps),
		    'Android steps: search, Samsung, never Wi-Fi (and the fix), screen lock, dashes', steps);
		check(/Copy the password before leaving this page/.test(await page.locator('#pw-box').innerText()),
		    'says "Copy the password before leaving this page"');
		const appsDone = await page.locator('#apps-done').innerText();
		check(APPS.android.every((re) => re.test(appsDone)), 'the result says which Android apps can use it',
		    appsDone.slice(0, 300));
		check(await page.locator('#done ol.steps:visible').count() === 1, 'only one platform\'s steps are shown');
		check(await page.locator('#p12-form').isHidden(), 'the form is gone after issuance');
		check(/^[0-9A-Fa-f:]+$/.test(await page.locator('#done-serial').innerText()), 'the serial is shown');
		await page.getByRole('button', { name: 'Copy' }).click();
		const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `(${e.message})`);
		check(clip === result.password, 'Copy puts the password on the clipboard', clip);
		await noSideScroll(page, 'result');
		const spelled = await page.locator('#pw-spelled').textContent();
		const want1 = 'Password, character by character: ' + [...result.password]
		    .map((c) => (c === '-' ? 'dash' : c)).join(', ') + '.';
		check(spelled === want1, 'screen readers get the password character by character', spelled);
		check(await page.locator('#pw').getAttribute('aria-hidden') === 'true' &&
		    await page.locator('#pw').getAttribute('aria-labelledby') === null,
		    'the visual password is not read as one word, and <code> carries no aria-labelledby');
		check(await page.getByRole('group', { name: 'Password for the file' }).count() === 1 &&
		    await page.getByRole('group', { name: /^Install it on Android$/ }).count() === 1 &&
		    await page.getByRole('group', { name: /^What can use it on Android$/ }).count() === 1,
		    'password, steps and apps are groups labelled by their headings');
		await a11y(page, 'result (generated password)');
		await page.emulateMedia({ colorScheme: 'dark' });
		await a11y(page, 'result, dark mode');
		await page.emulateMedia({ colorScheme: 'light' });
		await page.getByLabel('Show steps for another device').selectOption('windows');
		check(/Import Wizard/.test(await page.locator('#done ol.steps:visible').innerText()) &&
		    await page.locator('#done ol.steps:visible').count() === 1 &&
		    /Install it on Windows/.test(await page.locator('#steps-title').innerText()) &&
		    /Edge/.test(await page.locator('#apps-done').innerText()),
		    '"Show steps for another device" shows that device\'s steps and apps');
		await a11y(page, 'result, steps for another device');
		await page.getByLabel('Show steps for another device').selectOption('android');
		await shot(page, 'web-enroll-done.png');
		await done();

		// The same link again: used.
		await page.reload();
		await ready(page);
		check(await page.locator('#problem').getAttribute('data-error') === 'token_used' &&
		    /already used/i.test(await page.locator('#problem').innerText()),
		    'reloading shows "already used"', await page.locator('main').innerText());
		check(await page.locator('#enroll').isHidden() && await page.locator('#done').isHidden(),
		    'and nothing else');
		await shot(page, 'web-enroll-used.png');
		await a11y(page, 'link already used');
		await page.close();

		// ---- 2. unknown, malformed and expired links --------------------------------------
		page = await context.newPage();
		for (const [key, code, re] of [['bogus', 'token_unknown', /unknown/i],
		    ['malformed', 'token_unknown', /unknown/i], ['expired', 'token_expired', /expired/i]]) {
			if (!cfg.urls[key]) continue;
			await page.goto(cfg.urls[key]);
			await ready(page);
			check(await page.locator('#problem').getAttribute('data-error') === code &&
			    re.test(await page.locator('#problem-title').innerText()) &&
			    await page.locator('#enroll').isHidden(),
			    `${key} link shows the "${code}" message only`, await page.locator('main').innerText());
			await a11y(page, `${key} link`);
		}
		await page.close();

		// ---- 3. keyboard only: Tab to the button, Enter ------------------------------------
		page = await context.newPage();
		done = watch(page, 'keyboard page');
		await page.goto(cfg.urls.keyboard);
		await ready(page);
		const order = [];
		for (let i = 0; i < 12; i++) {
			await page.keyboard.press('Tab');
			const id = await page.evaluate(() => {
				const a = document.activeElement;
				return a.id || (a.name ? `${a.name}=${a.value}` : a.tagName.toLowerCase());
			});
			order.push(id);
			if (id === 'get-p12') break;
		}
		const want = ['device=linux', 'summary', 'summary', 'own-password', 'get-p12'];
		check(JSON.stringify(order) === JSON.stringify(want), 'tab order: device, which apps, advanced, password, button',
		    order.join(' > '));
		const outline = await page.locator('#get-p12').evaluate((e) => getComputedStyle(e).outlineStyle);
		check(outline !== 'none', 'the focused button has a visible focus ring', outline);
		const [dl2] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
		result.keyboard_p12 = path.join(out, 'keyboard.p12');
		await dl2.saveAs(result.keyboard_p12);
		check(dl2.suggestedFilename() === 'bob.p12', 'Enter on the button downloads bob.p12', dl2.suggestedFilename());
		await page.locator('#done').waitFor({ state: 'visible' });
		result.keyboard_password = (await page.locator('#pw').innerText()).trim();
		check(await page.evaluate(() => document.activeElement.id) === 'done-title',
		    'focus moves to the result heading');
		const lsteps = await page.locator('#done ol.steps:visible').innerText();
		check(/Your Certificates/.test(lsteps) && /chrome:\/\/settings\/certificates/.test(lsteps) &&
		    /its own certificates/.test(lsteps), 'Linux steps: chrome://settings/certificates, Firefox, each its own store',
		    lsteps);
		await done();
		await page.close();

		// ---- 4. own password, modern format forced under Advanced -------------------------
		page = await context.newPage();
		done = watch(page, 'own-password page');
		await page.goto(cfg.urls.own);
		await ready(page);
		await page.getByLabel('Windows').check();
		await page.getByText('Advanced: file format').click();
		await page.getByLabel('PKCS#12 format').selectOption('modern');
		check(await page.locator('#format-hint').getAttribute('data-format') === 'modern',
		    'the Advanced override wins over the device');
		check(/same number of password iterations/.test(await page.locator('#p12-format-hint').innerText()),
		    'Advanced says both formats use the same iteration count');
		await page.getByLabel(/Your own password/).fill('short');
		await page.getByRole('button', { name: 'Get my certificate' }).click();
		check(/at least 8/.test(await page.locator('#status').innerText()) &&
		    await page.locator('#enroll').isVisible(), 'a short own password is refused on the page');
		await a11y(page, 'form with a refused password');
		result.own_password = 'correct horse battery';
		await page.getByLabel(/Your own password/).fill(result.own_password);
		const [dl3] = await Promise.all([
			page.waitForEvent('download'),
			page.getByRole('button', { name: 'Get my certificate' }).click(),
		]);
		result.own_p12 = path.join(out, 'own.p12');
		await dl3.saveAs(result.own_p12);
		await page.locator('#done').waitFor({ state: 'visible' });
		check(await page.locator('#pw-box').isHidden() && await page.locator('#pw-own').isVisible(),
		    'with an own password no password is shown');
		await page.getByLabel('Show steps for another device').selectOption('ios');
		check(/modern format.*cannot open/.test(await page.locator('#steps-device-note').innerText()),
		    'a modern file: steps for an iPhone warn that it cannot open it');
		await a11y(page, 'result (own password, modern, steps for an iPhone)');
		await page.getByLabel('Show steps for another device').selectOption('windows');
		const wsteps = await page.locator('#done ol.steps:visible').innerText();
		check(/Current User/.test(wsteps) && /Import Wizard/.test(wsteps) && /Browse/.test(wsteps) &&
		    /open it again/.test(wsteps) && /Firefox.*Your Certificates/s.test(wsteps),
		    'Windows import steps are shown (wizard, restart the browser, Firefox)', wsteps);
		await done();
		await page.close();

		// ---- 5. own CSR: a bad one is reported, a good one signed ------------------------
		page = await context.newPage();
		done = watch(page, 'csr page');
		await page.goto(cfg.urls.csr);
		await ready(page);
		await page.getByText('I have my own CSR').click();
		await page.getByLabel('Paste the request (PEM)').fill('this is not a CSR');
		await page.getByRole('button', { name: 'Sign my request' }).click();
		await page.locator('#status.notice-error').waitFor({ state: 'visible' });
		const st = await page.locator('#status').innerText();
		check(st.length > 0 && await page.locator('#status').getAttribute('aria-live') === 'polite' &&
		    await page.locator('#enroll').isVisible(), 'a bad CSR: the API detail is shown in the live region', st);
		await shot(page, 'web-enroll-csr-error.png');
		await a11y(page, 'CSR form with an error');
		await page.getByLabel('Paste the request (PEM)').fill('');
		await page.locator('#csr-file').setInputFiles(cfg.csr_pem);
		const [dl4] = await Promise.all([
			page.waitForEvent('download'),
			page.getByRole('button', { name: 'Sign my request' }).click(),
		]);
		check(dl4.suggestedFilename() === 'carol.pem', 'the chain downloads as carol.pem', dl4.suggestedFilename());
		result.pem = path.join(out, 'carol.pem');
		await dl4.saveAs(result.pem);
		await page.locator('#csr-done').waitFor({ state: 'visible' });
		result.csr_serial = (await page.locator('#csr-serial').innerText()).trim();
		check(/^[0-9A-Fa-f:]+$/.test(result.csr_serial), 'the serial is shown', result.csr_serial);
		await a11y(page, 'CSR result');
		await done();
		await page.close();

		// ---- 6. devices: the right browser first, the safe format ---------------------
		// The loading state, held by delaying the API answer.
		page = await context.newPage();
		await page.route('**/api/v1/enroll/*', async (r) => { await new Promise((f) => setTimeout(f, 1500)); await r.continue(); });
		await page.goto(cfg.urls.look, { waitUntil: 'domcontentloaded' });
		if (await page.locator('#loading').isVisible()) await a11y(page, 'loading');
		else bad('the loading state was not seen');
		// Negative control: axe does report a field without a label.
		await page.evaluate(() => document.body.appendChild(document.createElement('input')));
		const ctl = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a'] } }));
		check(ctl.violations.some((v) => v.id === 'label'), 'axe-core itself works (an unlabelled field is reported)');
		await page.close();
		await devices(browser);
		await context.close();
		console.log(`axe-core checked ${axeStates.length} page states: ${axeStates.join('; ')}`);
	} finally {
		await browser.close();
	}
	writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2));
}

main().catch((e) => {
	console.log(`FAIL: browser run stopped: ${e && e.stack ? e.stack : e}`);
	try { writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2)); } catch (_) { /* */ }
	process.exit(1);
});
