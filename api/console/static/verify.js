// In-browser verification of the gateway's audit log: our own script, no library.
//
// 1. Fetch the latest checkpoint (a C2SP signed note) and check its Ed25519 signature with
//    WebCrypto against the verifier key the auditor pinned: pasted, or remembered by this
//    browser since the first visit (trust on first use, with a warning if the served key
//    ever differs).
// 2. For every event on the page: fetch its RFC 6962 inclusion proof and recompute the root
//    from the event's own leaf bytes; it must be the signed root.
// 3. If this browser verified an older checkpoint before: fetch the consistency proof and
//    check that the signed tree extends it (the log was not rewritten).
// The same algorithms as docs/verify_log.py (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
"use strict";

(function () {
  const PIN_KEY = "gateway.audit.pinnedVerifierKey";
  const LAST_KEY = "gateway.audit.lastCheckpoint";

  class Failure extends Error {}

  const enc = new TextEncoder();
  const hexOf = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const fromHex = (hex) => {
    if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Failure("a hash is not hexadecimal");
    return Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));
  };
  const fromB64 = (text) => {
    let raw;
    try { raw = atob(text); } catch (e) { throw new Failure("a value is not base64"); }
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  };
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  async function keyId(name, raw) {
    return (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, 0x01), raw))).slice(0, 4);
  }

  async function parseVerifierKey(vkey) {
    const parts = vkey.trim().split("+");
    if (parts.length < 3) throw new Failure("the pinned key is not a verifier key (name+id+key)");
    const name = parts[0], idHex = parts[1], blob = fromB64(parts.slice(2).join("+"));
    if (blob.length !== 33 || blob[0] !== 0x01) throw new Failure("the pinned key is not an Ed25519 key");
    const raw = blob.slice(1);
    if (hexOf(await keyId(name, raw)) !== idHex) {
      throw new Failure("the pinned key's id does not match its name and key (damaged when copied?)");
    }
    return { name, raw };
  }

  async function verifyNote(note, key) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new Failure("the checkpoint is not a signed note");
    const body = note.slice(0, split + 1), sigs = note.slice(split + 2);
    const wanted = await keyId(key.name, key.raw);
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", key.raw, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new Failure("this browser cannot check Ed25519 signatures (WebCrypto)");
    }
    const prefix = "\u2014 " + key.name + " ";
    for (const line of sigs.split("\n")) {
      if (!line.startsWith(prefix)) continue;
      const blob = fromB64(line.slice(prefix.length));
      if (!equal(blob.slice(0, 4), wanted)) continue;
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), enc.encode(body));
      if (!ok) throw new Failure("the checkpoint's signature does not verify with the pinned key");
      const lines = body.split("\n");
      if (!/^(0|[1-9][0-9]*)$/.test(lines[1] || "")) throw new Failure("the checkpoint's size is not a number");
      return { origin: lines[0], size: Number(lines[1]), root: fromB64(lines[2] || "") };
    }
    throw new Failure("the checkpoint carries no signature by the pinned key");
  }

  async function rootFromInclusion(index, size, leaf, path) {
    if (index >= size) throw new Failure(`event ${index} is outside a tree of ${size}`);
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) throw new Failure(`the inclusion proof of event ${index} is too long`);
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Failure(`the inclusion proof of event ${index} is too short`);
    return r;
  }

  async function rootsFromConsistency(first, second, proof, firstRoot) {
    if (first === second) return [firstRoot, firstRoot];
    const path = proof.slice();
    if ((first & (first - 1)) === 0) path.unshift(firstRoot);
    if (!path.length) throw new Failure("the consistency proof is empty");
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) throw new Failure("the consistency proof is too long");
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Failure("the consistency proof is too short");
    return [fr, sr];
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store",
                                        headers: { Accept: "application/json" } });
    if (!response.ok) throw new Failure(`the server answered ${response.status} for ${url.split("?")[0]}`);
    return response.json();
  }

  function say(box, cls, lines) {
    box.className = cls;
    box.replaceChildren(...lines.map((text, i) => {
      const el = document.createElement(i === 0 ? "p" : "li");
      if (i === 0) { const s = document.createElement("strong"); s.textContent = text; el.append(s); }
      else el.textContent = text;
      return el;
    }));
  }

  async function run(section, input, box, said) {
    const served = await getJson(section.dataset.checkpointUrl);
    let pinnedText = input.value.trim() || localStorage.getItem(PIN_KEY) || "";
    if (!pinnedText) {
      pinnedText = served.verifier_key;
      said.push("No key was pinned: the served key is now pinned in this browser. Compare its fingerprint with the one you were given.");
    } else if (pinnedText !== served.verifier_key) {
      said.push("Warning: the server now serves another key than the one you pinned; verifying against your pinned key.");
    }
    const key = await parseVerifierKey(pinnedText);
    localStorage.setItem(PIN_KEY, pinnedText);
    input.value = pinnedText;
    const cp = await verifyNote(served.note, key);
    said.push(`Checkpoint of ${cp.origin}: ${cp.size} entries, signature by ${key.name} verified.`);

    const rows = Array.from(document.querySelectorAll("tr.event"));
    let checked = 0;
    for (const row of rows) {
      const index = Number(row.dataset.index);
      const cell = row.querySelector(".inclusion");
      if (index >= cp.size) { cell.textContent = "after the checkpoint"; continue; }
      const leaf = await leafHash(fromB64(row.dataset.leaf));
      const proof = await getJson(`${section.dataset.inclusionUrl}?index=${index}&tree_size=${cp.size}`);
      if (!equal(fromHex(proof.leaf_hash), leaf)) {
        cell.textContent = "FAILED"; throw new Failure(`event ${index}: the served leaf hash is not the hash of the event shown`);
      }
      const root = await rootFromInclusion(index, cp.size, leaf, proof.audit_path.map(fromHex));
      if (!equal(root, cp.root)) { cell.textContent = "FAILED"; throw new Failure(`event ${index} is not in the signed tree`); }
      cell.textContent = "included ✓";
      checked += 1;
    }
    said.push(`Inclusion of ${checked} event${checked === 1 ? "" : "s"} shown on this page verified against the signed root.`);

    const last = JSON.parse(localStorage.getItem(LAST_KEY) || "null");
    if (last && last.key === pinnedText) {
      const oldRoot = fromHex(last.root);
      if (last.size > cp.size) throw new Failure(`the log shrank: this browser verified ${last.size} entries before, now ${cp.size}`);
      if (last.size === cp.size) {
        if (!equal(oldRoot, cp.root)) throw new Failure("the log was rewritten: same size, another root than the checkpoint this browser verified");
      } else if (last.size > 0) {
        const proof = await getJson(`${section.dataset.consistencyUrl}?first=${last.size}&second=${cp.size}`);
        const [o, n] = await rootsFromConsistency(last.size, cp.size, proof.proof.map(fromHex), oldRoot);
        if (!equal(o, oldRoot) || !equal(n, cp.root)) throw new Failure("the log was rewritten since the checkpoint this browser verified");
      }
      said.push(`Consistent with the checkpoint of ${last.size} entries this browser verified at ${last.at}.`);
    } else {
      said.push("No earlier checkpoint remembered: this one is remembered for the next visit's consistency check.");
    }
    localStorage.setItem(LAST_KEY, JSON.stringify({ key: pinnedText, size: cp.size, root: hexOf(cp.root), at: new Date().toISOString() }));
    say(box, "verdict ok", ["Verified in your browser.", ...said]);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("browser-verify");
    if (!section) return;
    const input = document.getElementById("pinned-key");
    const box = document.getElementById("verify-result");
    const button = document.getElementById("verify-button");
    const forget = document.getElementById("forget-button");
    input.value = localStorage.getItem(PIN_KEY) || "";
    button.disabled = false; forget.disabled = false;
    button.addEventListener("click", async () => {
      button.disabled = true;
      say(box, "verdict", ["Verifying…"]);
      const said = [];
      try {
        await run(section, input, box, said);
      } catch (error) {
        const why = error instanceof Failure ? error.message : `the check could not run (${error.name || "error"})`;
        say(box, "verdict bad", ["Verification FAILED in your browser.", why, ...said]);
      } finally {
        button.disabled = false;
      }
    });
    forget.addEventListener("click", () => {
      localStorage.removeItem(PIN_KEY); localStorage.removeItem(LAST_KEY); input.value = "";
      say(box, "verdict", ["The pinned key and the remembered checkpoint are forgotten."]);
    });
  });
})();
