// The enrollment page of renewal links, in Debian's headless Chromium through
// playwright-core.  Run by it_renew_page.sh:
//
//   node web_renew.mjs CONFIG.json
//
// CONFIG: { "chromium", "out": DIR, "modules": [DIR...], "keep": URL (a
// renewal link that keeps the old certificate), "revoke": URL (one that
// revokes it; used here), "first": URL (a first enrollment; only looked at),
// "keep_not_after", "revoke_not_after": the old certificates' notAfter (ISO) }
// Prints PASS:/FAIL: lines; writes DIR/result.json ({ p12, password }) for
// the shell to check with openssl.  Exit 0 when it ran to the end.

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const result = {};

function check(ok, msg, why) {
	console.log(ok ? `PASS: ${msg}` : `FAIL: ${msg}${why ? ` (${why})` : ''}`);
}

function loadPlaywright() {
	for (const dir of cfg.modules || []) {
		if (existsSync(path.join(dir, 'node_modules', 'playwright-core', 'package.json')))
			return createRequire(path.join(dir, 'x.js'))('playwright-core');
	}
	return createRequire(import.meta.url)('playwright-core');
}

// axe-core (npm) on the page as it is: WCAG 2.0/2.1 A and AA, no violations.
async function a11y(page, label) {
	let src = '';
	for (const dir of cfg.modules || []) {
		const f = path.join(dir, 'node_modules', 'axe-core', 'axe.min.js');
		if (existsSync(f)) { src = readFileSync(f, 'utf8'); break; }
	}
	if (!src) { check(false, `${label}: axe-core is not installed (npm ci --prefix tests/integration)`); return; }
	await page.evaluate(src);
	const r = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
		resultTypes: ['violations'],
	}));
	check(r.violations.length === 0, `axe-core (WCAG 2.1 A/AA): ${label}: no violations`,
	    r.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; '));
}

async function open(context, url) {
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	await page.goto(url);
	await page.waitForFunction(() => !document.getElementById('enroll').hidden ||
	    !document.getElementById('problem').hidden);
	return { page, errors };
}

async function main() {
	const pw = loadPlaywright();
	const browser = await pw.chromium.launch({
		executablePath: cfg.chromium, headless: true, timeout: 30000,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
		    '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
	});
	try {
		const context = await browser.newContext({
			viewport: { width: 390, height: 844 }, acceptDownloads: true, ignoreHTTPSErrors: true,
			locale: 'en-GB', timezoneId: 'UTC',
			userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
		});
		context.setDefaultTimeout(15000);

		// A renewal link that keeps the old certificate: looked at only.
		let { page, errors } = await open(context, cfg.keep);
		let h1 = await page.locator('h1').innerText();
		check(h1 === 'Renew your certificate', 'renewal link: the heading says "Renew your certificate"', h1);
		check((await page.title()).startsWith('Renew your certificate'), 'renewal link: so does the title',
		    await page.title());
		let text = (await page.locator('#renewal').isVisible()) ? await page.locator('#renewal').innerText() : '';
		check(/This is a renewal\./.test(text), 'renewal link: the page says "This is a renewal."', text);
		check(/keeps working until then/.test(text), 'renewal link without revoke_old: the old one keeps working', text);
		check(await page.locator('#renewal-expires').getAttribute('datetime') === cfg.keep_not_after &&
		    (await page.locator('#renewal-expires').innerText()).length > 0,
		    'renewal link: the old certificate\'s expiry is shown',
		    await page.locator('#renewal-expires').getAttribute('datetime'));
		check(errors.length === 0, 'renewal page: no script errors', errors.join('; '));
		await a11y(page, 'renewal page');
		await page.emulateMedia({ colorScheme: 'dark' });
		await a11y(page, 'renewal page, dark mode');
		await page.close();

		// A first-enrollment link: none of it.
		({ page, errors } = await open(context, cfg.first));
		h1 = await page.locator('h1').innerText();
		check(h1 === 'Get your certificate' && await page.locator('#renewal').isHidden(),
		    'first-enrollment link: "Get your certificate", no renewal notice', h1);
		await page.close();

		// A renewal link that revokes the old one: used, then used again.
		({ page, errors } = await open(context, cfg.revoke));
		text = (await page.locator('#renewal').isVisible()) ? await page.locator('#renewal').innerText() : '';
		check(/This is a renewal\./.test(text) && /stops working as soon as you get the new one/.test(text),
		    'renewal link with revoke_old: says the old one stops working', text);
		check(await page.locator('#renewal-expires').getAttribute('datetime') === cfg.revoke_not_after,
		    'renewal link with revoke_old: the old certificate\'s expiry is shown');
		await page.screenshot({ path: path.join(cfg.out, 'web-renewal-form.png'), fullPage: true });
		const [dl] = await Promise.all([
			page.waitForEvent('download'),
			page.getByRole('button', { name: 'Get my certificate' }).click(),
		]);
		result.p12 = path.join(cfg.out, 'renewed.p12');
		await dl.saveAs(result.p12);
		await page.locator('#done').waitFor({ state: 'visible' });
		result.password = (await page.locator('#pw').innerText()).trim();
		check(result.password.length >= 12, 'the renewal link gives a PKCS#12 and shows its password');
		check(errors.length === 0, 'renewal page (used): no script errors', errors.join('; '));
		await page.close();
		({ page } = await open(context, cfg.revoke));
		const problem = await page.locator('#problem').isVisible() ? await page.locator('#problem').innerText() : '';
		check(/already used/i.test(problem), 'the renewal link works once: "already used" the second time', problem);
		await page.close();
		await context.close();
	} finally {
		await browser.close();
	}
	writeFileSync(path.join(cfg.out, 'result.json'), JSON.stringify(result, null, 2));
}

main().catch((e) => {
	console.log(`FAIL: browser run stopped: ${e && e.stack ? e.stack : e}`);
	try { writeFileSync(path.join(cfg.out, 'result.json'), JSON.stringify(result, null, 2)); } catch (_) { /* */ }
	process.exit(1);
});
