// The supervisor's own memory of the audit log (issue 18): this browser keeps the latest checkpoint it saw,
// cosigned by the witness, and checks every new one against it with the browser's own cryptography
// (Ed25519 signatures, SHA-256 consistency proofs, RFC 9162), so that a database swapped for an older
// copy, or a rewritten history, shows here even if the server says all is well.
(function () {
  "use strict";
  var box = document.getElementById("witness-memory");
  if (!box || !window.crypto || !crypto.subtle) return;
  var status = document.getElementById("witness-memory-status");
  var enc = new TextEncoder();

  function say(kind, text) {
    status.textContent = text;
    status.className = "flash " + (kind === "alarm" ? "flash-error" : kind === "ok" ? "flash-success" : "flash-info");
    if (kind === "alarm") status.setAttribute("role", "alert");
    box.setAttribute("data-result", kind);
  }
  function msg(name, values) {
    var text = box.getAttribute("data-msg-" + name) || name;
    Object.keys(values || {}).forEach(function (k) { text = text.split("%(" + k + ")s").join(String(values[k])); });
    return text;
  }
  function b64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat() {
    var n = 0, parts = Array.prototype.slice.call(arguments);
    parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function parseKey(key, algorithm) {
    var parts = key.trim().split("+");
    var raw = b64(parts.slice(2).join("+"));
    if (parts.length < 3 || raw[0] !== algorithm || raw.length !== 33) throw new Error("bad key");
    return { name: parts[0], id: parts[1], raw: raw.slice(1) };
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function parseNote(note) {
    var split = note.lastIndexOf("\n\n");
    var text = note.slice(0, split + 1);
    var sigs = note.slice(split + 2).split("\n").filter(Boolean).map(function (line) {
      var fields = line.slice(2).split(" ");
      var blob = b64(fields[1]);
      return { name: fields[0], id: hex(blob.slice(0, 4)), sig: blob.slice(4) };
    });
    var lines = text.split("\n");
    return { text: text, sigs: sigs, origin: lines[0], size: parseInt(lines[1], 10), root: b64(lines[2]) };
  }
  async function verifyWith(key, message, signature) {
    var imported = await crypto.subtle.importKey("raw", key.raw, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, imported, signature, message);
  }
  // The note must carry a valid signature of the log and of every trusted witness.
  async function openCosigned(note, logKey, witnessKeys) {
    var parsed = parseNote(note), text = enc.encode(parsed.text);
    var log = parseKey(logKey, 1), logOk = false;
    for (var s of parsed.sigs) {
      if (s.name === log.name && s.id === log.id) logOk = await verifyWith(log, text, s.sig);
    }
    if (!logOk) throw new Error("log signature");
    for (var k of witnessKeys) {
      var w = parseKey(k, 4), ok = false;
      for (var c of parsed.sigs) {
        if (c.name !== w.name || c.id !== w.id || c.sig.length !== 72) continue;
        var time = new DataView(c.sig.buffer, c.sig.byteOffset, 8).getBigUint64(0);
        var message = concat(enc.encode("cosignature/v1\ntime " + time.toString() + "\n"), text);
        ok = await verifyWith(w, message, c.sig.slice(8));
      }
      if (!ok) throw new Error("cosignature");
    }
    return parsed;
  }
  async function nodeHash(left, right) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(new Uint8Array([1]), left, right)));
  }
  // RFC 9162 2.1.4.2 (sizes as Numbers: a log of 2^53 entries is far away).
  async function consistent(m, n, oldRoot, newRoot, proof) {
    if (m === n) return proof.length === 0 && equal(oldRoot, newRoot);
    if (m === 0 || proof.length === 0) return false;
    var path = proof.slice();
    if ((m & (m - 1)) === 0) path.unshift(oldRoot);
    var fn = m - 1, sn = n - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return equal(fr, oldRoot) && equal(sr, newRoot) && sn === 0;
  }
  async function run() {
    var note = box.getAttribute("data-checkpoint");
    var logKey = box.getAttribute("data-log-key");
    var witnesses = JSON.parse(box.getAttribute("data-witness-keys") || "[]");
    if (!note || !witnesses.length) { say("alarm", msg("unwitnessed")); return; }
    var current;
    try { current = await openCosigned(note, logKey, witnesses); }
    catch (e) { say("alarm", msg("bad-signature")); return; }
    var store = "sunbid.checkpoint:" + current.origin;
    var remembered = localStorage.getItem(store);
    if (!remembered) {
      localStorage.setItem(store, note);
      say("ok", msg("first", { size: current.size }));
      return;
    }
    var old;
    try { old = await openCosigned(remembered, logKey, witnesses); }
    catch (e) { localStorage.setItem(store, note); say("info", msg("first", { size: current.size })); return; }
    if (old.size === current.size) {
      if (equal(old.root, current.root)) say("ok", msg("same", { size: current.size }));
      else say("alarm", msg("fork", { old: old.size, size: current.size }));
      return;
    }
    var small = old.size < current.size ? old : current, large = small === old ? current : old;
    var proof = null;
    try {
      var url = box.getAttribute("data-consistency-url") + "?from=" + small.size + "&to=" + large.size;
      var answer = await fetch(url, { credentials: "same-origin" });
      if (answer.ok) proof = (await answer.json()).proof.map(b64);
    } catch (e) { proof = null; }
    var ok = proof !== null && await consistent(small.size, large.size, small.root, large.root, proof);
    if (!ok) {
      say("alarm", msg(current.size < old.size ? "rollback" : "fork", { old: old.size, size: current.size }));
      return;
    }
    if (current.size > old.size) {
      localStorage.setItem(store, note);
      say("ok", msg("newer", { old: old.size, size: current.size }));
    } else {
      say("ok", msg("same", { size: old.size }));
    }
  }
  run().catch(function () { say("alarm", msg("error")); });
})();
