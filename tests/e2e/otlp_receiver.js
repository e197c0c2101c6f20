// SPDX-License-Identifier: MIT
//
// An OTLP/HTTP trace receiver for the end-to-end tests: a plain HTTP server
// on 127.0.0.1 that decodes each request body with the official protobuf
// definitions (@opentelemetry/otlp-transformer's generated root) and writes
// what it got as JSON lines:
//
//   --spans FILE     one line per span: its fields, attributes flattened to
//                    {key: value}, ids in hex, with its resource and scope
//   --requests FILE  one line per request: arrival (ms since the epoch),
//                    method, path, content type, the x-* headers, body
//                    length, status replied, spans decoded, error
//
// With --tls-cert and --tls-key (PEM files) it serves HTTPS instead.
//
// A body of Content-Type application/json is read as OTLP's JSON encoding
// (ids in hex, 64-bit integers as strings, enums as numbers): converted by
// the same generated code's fromObject, and refused (400) unless it reads
// back to exactly the JSON sent, so a misnamed or mistyped field fails.
//
// It answers 200 with an empty ExportTraceServiceResponse (in the request's
// encoding), or
// --fail-status (default 503) to the first --fail-first requests (with a
// Retry-After header if --retry-after SECONDS), or 400 to a body it cannot
// decode. The port it listens on goes to --ready-file.
//
// usage: node otlp_receiver.js --module DIR --ready-file F --spans F
//            --requests F [--fail-first N] [--fail-status CODE]
//            [--retry-after SECONDS] [--tls-cert F --tls-key F]
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");

function args(argv) {
	const out = { failFirst: 0, failStatus: 503, retryAfter: "", tlsCert: "", tlsKey: "" };
	for (let i = 2; i < argv.length; i += 2) {
		const key = argv[i].replace(/^--/, "").replace(/-(.)/g, (_, c) => c.toUpperCase());
		if (!(key in { module: 1, readyFile: 1, spans: 1, requests: 1, failFirst: 1, failStatus: 1, retryAfter: 1, tlsCert: 1, tlsKey: 1 }) ||
			i + 1 >= argv.length) {
			console.error("otlp_receiver: bad argument " + argv[i]);
			process.exit(2);
		}
		out[key] = argv[i + 1];
	}
	for (const k of ["module", "readyFile", "spans", "requests"]) {
		if (!out[k]) {
			console.error("otlp_receiver: missing --" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
			process.exit(2);
		}
	}
	out.failFirst = Number(out.failFirst);
	out.failStatus = Number(out.failStatus);
	return out;
}

const opt = args(process.argv);
const root = require(opt.module + "/build/src/generated/root");
const trace = root.opentelemetry.proto.collector.trace.v1;
const toObj = { longs: String, enums: String, bytes: String, defaults: false, arrays: true };

function hex(b64) {
	return b64 ? Buffer.from(b64, "base64").toString("hex") : "";
}

// AnyValue as a plain value (intValue, a long, comes as a string)
function value(v) {
	if (!v) return null;
	if ("stringValue" in v) return v.stringValue;
	if ("boolValue" in v) return v.boolValue;
	if ("intValue" in v) return Number(v.intValue);
	if ("doubleValue" in v) return v.doubleValue;
	if ("arrayValue" in v) return ((v.arrayValue || {}).values || []).map(value);
	return { other: v };
}

// KeyValue list as {key: value}; keys seen twice are listed in dup
function attrs(list, dup) {
	const out = {};
	for (const kv of list || []) {
		if (kv.key in out) dup.push(kv.key);
		out[kv.key] = value(kv.value);
	}
	return out;
}

// OTLP/JSON's hex ids as protobufjs's base64, in place; false if one is not hex
function idsToBase64(req) {
	let ok = true;
	const conv = (o, k, n) => {
		if (!(k in o)) return;
		if (typeof o[k] !== "string" || o[k].length !== 2 * n || !/^[0-9a-f]*$/.test(o[k])) {
			ok = false;
			return;
		}
		o[k] = Buffer.from(o[k], "hex").toString("base64");
	};
	for (const rs of req.resourceSpans || [])
		for (const ss of rs.scopeSpans || [])
			for (const s of ss.spans || []) {
				conv(s, "traceId", 16);
				conv(s, "spanId", 8);
				conv(s, "parentSpanId", 8);
			}
	return ok;
}

// a value with its objects' keys sorted, for comparing two decodings
function canon(v) {
	if (Array.isArray(v)) return v.map(canon);
	if (v && typeof v === "object")
		return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
	return v;
}

// the ExportTraceServiceRequest of a JSON body; throws if it is not exactly one
function decodeJson(body) {
	const sent = JSON.parse(body.toString("utf8"));
	if (!idsToBase64(sent))
		throw new Error("a trace or span id is not lower-case hex of its length");
	// (verify() would refuse int64 strings, which OTLP/JSON wants: the round trip checks)
	const T = trace.ExportTraceServiceRequest;
	const msg = T.fromObject(sent);
	const back = T.toObject(msg, { longs: String, enums: Number, bytes: String, defaults: false });
	if (JSON.stringify(canon(back)) !== JSON.stringify(canon(sent)))
		throw new Error("the JSON does not read back as sent (an unknown or mistyped field)");
	return msg;
}

function spans(req) {
	const lines = [];
	for (const rs of req.resourceSpans || []) {
		const resDup = [];
		const resource = attrs((rs.resource || {}).attributes, resDup);
		for (const ss of rs.scopeSpans || []) {
			for (const s of ss.spans || []) {
				const dup = resDup.slice();
				lines.push({
					resource,
					scope: ss.scope || {},
					traceId: hex(s.traceId),
					traceState: s.traceState || "",
					spanId: hex(s.spanId),
					parentSpanId: hex(s.parentSpanId),
					name: s.name,
					kind: s.kind || "SPAN_KIND_UNSPECIFIED",
					startTimeUnixNano: s.startTimeUnixNano || "0",
					endTimeUnixNano: s.endTimeUnixNano || "0",
					attributes: attrs(s.attributes, dup),
					events: (s.events || []).map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano })),
					status: s.status || {},
					duplicateKeys: dup,
				});
			}
		}
	}
	return lines;
}

let seen = 0;
function handler(req, res) {
	const chunks = [];
	req.on("data", (c) => chunks.push(c));
	req.on("end", () => {
		const body = Buffer.concat(chunks);
		const log = {
			t: Date.now(),
			method: req.method,
			path: req.url,
			contentType: req.headers["content-type"] || "",
			xHeaders: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-"))),
			length: body.length,
			status: 200,
			spans: 0,
		};
		seen++;
		const json = (req.headers["content-type"] || "").split(";")[0].trim() === "application/json";
		let reply = Buffer.alloc(0);
		const headers = { "Content-Type": json ? "application/json" : "application/x-protobuf" };
		if (seen <= opt.failFirst) {
			log.status = opt.failStatus;
			if (opt.retryAfter)
				headers["Retry-After"] = opt.retryAfter;
		} else {
			try {
				const msg = json ? decodeJson(body) : trace.ExportTraceServiceRequest.decode(body);
				const decoded = trace.ExportTraceServiceRequest.toObject(msg, toObj);
				const lines = spans(decoded);
				log.spans = lines.length;
				if (lines.length)
					fs.appendFileSync(opt.spans, lines.map((l) => JSON.stringify(l) + "\n").join(""));
				reply = json ? Buffer.from("{}")
					: Buffer.from(trace.ExportTraceServiceResponse.encode({}).finish());
			} catch (e) {
				log.status = 400;
				log.error = String(e);
			}
		}
		fs.appendFileSync(opt.requests, JSON.stringify(log) + "\n");
		res.writeHead(log.status, headers);
		res.end(reply);
	});
}

const server = opt.tlsCert
	? https.createServer({ cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey) }, handler)
	: http.createServer(handler);
server.listen(0, "127.0.0.1", () => {
	fs.writeFileSync(opt.readyFile + ".tmp", String(server.address().port));
	fs.renameSync(opt.readyFile + ".tmp", opt.readyFile);
});
