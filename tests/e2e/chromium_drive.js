// SPDX-License-Identifier: MIT
// Drives headless Chromium (Debian's, by playwright-core) through a fixed set
// of fetches and prints, as one JSON object on stdout, Chromium's OWN timings
// of each request, read from the DevTools protocol.
//
//   node chromium_drive.js CONFIG.json
//
// CONFIG: {"chromium": path, "page": URL of the page to open first,
//          "fetches": [[key, URL] or [[key, URL], ...] (fetched at once)],
//          "out": path of the JSON written at the end}
// Each fetch is made from the page, awaited with its body read in full, one
// after the other (a list of several: all at once). Output: {"requests":
// [{key, url, timing, protocol, connectionId, reused, remotePort, sent, end,
// failed}], "user_agent"}: timing is Network.Response.timing as Chromium gave
// it (requestTime in seconds of CLOCK_MONOTONIC, the rest ms after it, -1
// where not applicable); end the loadingFinished timestamp (seconds, same
// clock); failed the loadingFailed error text.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require(path.join(__dirname, 'node', 'node_modules', 'playwright-core'));

// nothing Chromium would fetch on its own: only the page's requests go out
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	      '--disable-background-networking', '--disable-component-update', '--disable-sync',
	      '--disable-default-apps', '--disable-domain-reliability', '--no-pings',
	      '--disable-features=OptimizationHints,MediaRouter,Translate,NetworkPrediction',
	      '--ignore-certificate-errors', '--dns-prefetch-disable'];

async function main() {
	const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
	const browser = await chromium.launch({ executablePath: cfg.chromium, args: ARGS });
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
	const page = await ctx.newPage();
	const cdp = await ctx.newCDPSession(page);
	const byId = {};
	const entry = (id) => (byId[id] = byId[id] || {});

	await cdp.send('Network.enable');
	await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
	cdp.on('Network.requestWillBeSent', (e) => Object.assign(entry(e.requestId), {
		url: e.request.url, sent: e.timestamp }));
	cdp.on('Network.responseReceived', (e) => Object.assign(entry(e.requestId), {
		timing: e.response.timing, protocol: e.response.protocol,
		connectionId: e.response.connectionId, reused: e.response.connectionReused,
		remotePort: e.response.remotePort, status: e.response.status }));
	cdp.on('Network.loadingFinished', (e) => Object.assign(entry(e.requestId), {
		end: e.timestamp }));
	cdp.on('Network.loadingFailed', (e) => Object.assign(entry(e.requestId), {
		failed: e.errorText, end: e.timestamp }));

	await page.goto(cfg.page);
	for (const step of cfg.fetches) {
		const group = Array.isArray(step[0]) ? step : [step];
		await page.evaluate((urls) => Promise.all(urls.map((u) =>
			fetch(u, { cache: 'no-store' }).then((r) => r.arrayBuffer()).catch(() => null))),
		group.map((f) => f[1]));
	}
	// the last events of the last fetch arrive after its promise
	await new Promise((r) => setTimeout(r, 300));
	const ua = await page.evaluate(() => navigator.userAgent);
	await browser.close();
	const keyOf = {};
	for (const step of cfg.fetches)
		for (const f of (Array.isArray(step[0]) ? step : [step]))
			keyOf[f[1]] = f[0];
	const requests = Object.values(byId).filter((r) => r.url).map((r) =>
		Object.assign({ key: keyOf[r.url] || null }, r));
	fs.writeFileSync(cfg.out, JSON.stringify({ requests, user_agent: ua }));
}

main().catch((e) => {
	console.error('chromium_drive: ' + (e && e.stack ? e.stack : e));
	process.exit(1);
});
