// Cross-checks `bitsguard classify` against Node's WHATWG URL parser on every http(s) name of the
// classifier's unit-test table: where bitsguard says the WHATWG reading reached an IP, Node must give
// that IP as the host; where Node gives an IP host, bitsguard must report that IP (by WHATWG's
// reading) or a public IP that another reading reached. Usage: node whatwg_crosscheck.js BITSGUARD TABLE.c
"use strict";
const fs = require("fs");
const { execFileSync } = require("child_process");

// Names where bitsguard deliberately differs from WHATWG's host, and why.
const DIFFER = [
  [/^https?:\/\/localhost\.?\//i, "Windows answers localhost itself: 127.0.0.1"],
  [/ipv6-literal\.net/i, "Windows' resolver answers *.ipv6-literal.net names itself"],
  [/\[[^\]]*%/, "zone ids: WHATWG refuses them, Windows takes RFC 6874 zones"],
  [/\u3164/, "U+3164 is ignored since Unicode 16 (the pinned table); Node 20 still follows Unicode 15"],
];

// The first argument of each case macro: C string literals, concatenated, escapes decoded to bytes.
function tableNames(source) {
  const names = [];
  const re = /\b(?:PUB|PRIV|DOM|BAD|LOCAL|PUBR|PRIVR)\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g;
  let m;
  while ((m = re.exec(source)) !== null) {
    const bytes = [];
    for (const lit of m[1].match(/"(?:[^"\\]|\\.)*"/g)) {
      const body = lit.slice(1, -1);
      for (let i = 0; i < body.length; i++) {
        if (body[i] !== "\\") {
          bytes.push(...Buffer.from(body[i], "latin1"));
          continue;
        }
        const c = body[++i];
        if (c === "x") {
          const hex = body.slice(i + 1).match(/^[0-9a-fA-F]+/)[0];
          bytes.push(parseInt(hex, 16));
          i += hex.length;
        } else {
          bytes.push({ n: 10, t: 9, r: 13, f: 12, v: 11 }[c] ?? c.charCodeAt(0));
        }
      }
    }
    names.push(Buffer.from(bytes));
  }
  return names;
}

function nodeHost(text) {
  try {
    const h = new URL(text).hostname;
    const mapped = h.match(/^\[::ffff:([0-9a-f]+):([0-9a-f]+)\]$/);
    if (mapped) {
      const v = (parseInt(mapped[1], 16) << 16) | parseInt(mapped[2], 16);
      return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
    }
    return h.replace(/^\[|\]$/g, "");
  } catch (e) {
    return null;
  }
}

const isIp = (h) => h !== null && (/^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(":"));
const [bin, table] = process.argv.slice(2);
const names = tableNames(fs.readFileSync(table, "latin1")).filter((b) => {
  const t = b.toString("latin1").replace(/^[\x00-\x20]+/, "");
  return /^https?:/i.test(t) && !b.includes(0) && !/[\r\n]/.test(b.toString("latin1"));
});
let failed = 0, checked = 0, differ = 0;
for (const b of names) {
  const text = b.toString("utf8");
  if (Buffer.compare(Buffer.from(text, "utf8"), b) !== 0)
    continue; // Not UTF-8: no JavaScript string holds these bytes.
  const got = JSON.parse(execFileSync(bin, ["classify", "--json", "--", text]).toString("utf8"));
  const host = nodeHost(text);
  const why = DIFFER.find(([re]) => re.test(text));
  if (why) {
    differ++;
    continue;
  }
  checked++;
  let ok = true;
  if (got.reading === "whatwg")
    ok = host === got.ip;
  else if (isIp(host))
    ok = got.verdict === "public-ip" || got.ip === host;
  if (!ok) {
    failed++;
    console.log(`FAIL ${JSON.stringify(text)}: node host ${JSON.stringify(host)}, bitsguard ${JSON.stringify(got)}`);
  }
}
console.log(`${checked} names cross-checked against Node ${process.version}'s URL, ${differ} known to differ`);
if (checked < 300) {
  console.log("FAIL: fewer names than expected were read from the table");
  failed++;
}
process.exit(failed ? 1 : 0);
