// Sealing a bid part in Web Workers (docs/bid-format.md): the files are read once, streamed into the
// tar while each is hashed for the manifest, the manifest is signed (inner CMS), the tar is encrypted
// with age to the tender's opening key and the tenderer's own recipient, and the ciphertext is hashed
// and written to the origin-private file system as it comes. Then the statement is signed (outer CMS)
// into OUT.sig.
//
// Speed: the three steps that cost (SHA-256 of the files; ChaCha20-Poly1305; SHA-256 of the
// ciphertext and its write) run in three workers started from this same script, batch after batch,
// so that two cores or more share the work. age's header (the file key wrapped to each recipient,
// the header MAC) comes from age-encryption; the payload is age v1's STREAM (64 KiB chunks, nonce =
// 11-byte big-endian counter || last-chunk flag) sealed with libsodium's ChaCha20-Poly1305 (WASM,
// about 3x the pure-JS @noble/ciphers that age-encryption would use).
//
// Memory stays bounded whatever the size: DEPTH plaintext and DEPTH ciphertext batches of BATCH
// bytes go round between the workers (transferred, never copied by postMessage) and are reused.
import { Encrypter } from "age-encryption";
import { createSHA256 } from "hash-wasm";
import sodium from "libsodium-wrappers";
import { canonicalBytes, canonicalJson } from "./lib/canonical.js";
import { signDetached } from "./lib/cms.js";
import { CodedError, pem, toBase64 } from "./lib/der.js";
import { memberHeader, orderMembers, padding, tarSize } from "./lib/tar.js";

const CHUNK = 64 * 1024; // age v1 STREAM's plaintext chunk
const TAG = 16; // its Poly1305 tag
const BATCH_CHUNKS = 16;
const BATCH = BATCH_CHUNKS * CHUNK;
const DEPTH = 4;

// age's header for the recipients, and the payload key. age-encryption wraps a fresh file key to
// each recipient and MACs the header; one more recipient of our own (its documented Recipient
// interface) is handed the file key and adds no stanza. Encrypting nothing yields header || nonce ||
// one empty final chunk (a 16-byte tag); the payload key is HKDF-SHA-256(file key, nonce, "payload").
async function ageHeader(recipients) {
  let fileKey = null;
  const encrypter = new Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  encrypter.addRecipient({
    wrapFileKey(key) {
      fileKey = key.slice();
      return [];
    },
  });
  const empty = await encrypter.encrypt(new Uint8Array(0));
  const prefix = empty.slice(0, empty.length - TAG);
  const nonce = prefix.subarray(prefix.length - 16);
  const ikm = await crypto.subtle.importKey("raw", fileKey, "HKDF", false, ["deriveBits"]);
  fileKey.fill(0);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: nonce, info: new TextEncoder().encode("payload") },
    ikm,
    256,
  );
  return { prefix, key: new Uint8Array(bits) };
}

// The cipher worker: each batch's chunks sealed in order, the counter running on from the batch's
// first chunk; the ciphertext goes on to the sink, the plaintext buffer back to be filled again.
function cipherRole(first) {
  const { key, port } = first;
  const nonce = new Uint8Array(12);
  let busy = 0;
  self.onmessage = async (event) => {
    const { seq, counter, length, last, pt, ct } = event.data;
    try {
      await sodium.ready;
      const began = performance.now();
      const plain = new Uint8Array(pt, 0, length);
      const sealed = new Uint8Array(ct);
      const chunks = Math.max(1, Math.ceil(length / CHUNK));
      let at = 0;
      for (let k = 0; k < chunks; k++) {
        let c = counter + k;
        for (let b = 10; b >= 0; b--) {
          nonce[b] = c % 256;
          c = Math.floor(c / 256);
        }
        nonce[11] = last && k === chunks - 1 ? 1 : 0;
        const from = k * CHUNK;
        const piece = plain.subarray(from, Math.min(from + CHUNK, length));
        const box = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(piece, null, null, nonce, key);
        sealed.set(box, at);
        at += box.length;
      }
      busy += performance.now() - began;
      port.postMessage({ seq, length: at, last, ct, cipherMs: busy }, [ct]);
      self.postMessage({ pt }, [pt]);
    } catch (err) {
      self.postMessage({ error: String(err.message || err) });
    }
  };
}

// The sink worker: the age file (header, then the batches in order) hashed and written to the
// origin-private file system; each ciphertext buffer goes back to the sealing worker once written.
async function sinkRole(first) {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(first.outName, { create: true });
  const file = await handle.createSyncAccessHandle();
  const hasher = await createSHA256();
  file.truncate(0);
  let size = 0;
  const busy = { hash: 0, write: 0 };
  const put = (bytes) => {
    const began = performance.now();
    hasher.update(bytes);
    const hashed = performance.now();
    file.write(bytes, { at: size });
    busy.hash += hashed - began;
    busy.write += performance.now() - hashed;
    size += bytes.length;
  };
  put(first.prefix);
  const pending = new Map();
  let next = 0;
  first.port.onmessage = (event) => {
    pending.set(event.data.seq, event.data);
    try {
      while (pending.has(next)) {
        const { length, last, ct, cipherMs } = pending.get(next);
        pending.delete(next);
        next += 1;
        put(new Uint8Array(ct, 0, length));
        self.postMessage({ type: "ct", ct }, [ct]);
        if (last) {
          file.flush();
          file.close();
          const profile = { cipher: cipherMs, sinkHash: busy.hash, sinkWrite: busy.write };
          self.postMessage({ type: "sealed", sha256: hasher.digest("hex"), size, profile });
        }
      }
    } catch (err) {
      self.postMessage({ type: "error", message: String(err.message || err) });
    }
  };
}

// The age payload from the sealing worker's side: tar bytes are copied into plaintext batches, and a
// full batch is sent on only once more bytes follow, so that the last one carries the final flag.
function payloadPipeline(prefix, key, outName) {
  const cipher = new Worker(self.location.href);
  const sink = new Worker(self.location.href);
  const channel = new MessageChannel();
  const freePt = Array.from({ length: DEPTH }, () => new ArrayBuffer(BATCH));
  const freeCt = Array.from({ length: DEPTH }, () => new ArrayBuffer(BATCH + BATCH_CHUNKS * TAG));
  let wake = null;
  let failure = null;
  let sealed = null;
  const poke = () => {
    const w = wake;
    wake = null;
    if (w) w();
  };
  const fail = (message) => {
    failure = failure || new CodedError("seal_failed", message);
    poke();
  };
  cipher.onmessage = (event) => {
    if (event.data.error) return fail(event.data.error);
    freePt.push(event.data.pt);
    poke();
  };
  sink.onmessage = (event) => {
    const m = event.data;
    if (m.type === "ct") freeCt.push(m.ct);
    else if (m.type === "sealed") sealed = m;
    else fail(m.message);
    poke();
  };
  cipher.onerror = (event) => fail(event.message || "the cipher worker failed");
  sink.onerror = (event) => fail(event.message || "the sink worker failed");
  cipher.postMessage({ role: "cipher", key, port: channel.port1 }, [channel.port1]);
  sink.postMessage({ role: "sink", outName, prefix, port: channel.port2 }, [channel.port2]);

  const until = async (ready) => {
    while (!failure && !ready()) {
      await new Promise((resolve) => {
        wake = resolve;
      });
    }
    if (failure) throw failure;
  };
  let seq = 0;
  let batch = null;
  let used = 0;
  const take = async () => {
    await until(() => freePt.length > 0);
    batch = freePt.pop();
  };
  const send = async (last) => {
    await until(() => freeCt.length > 0);
    const ct = freeCt.pop();
    const pt = batch;
    cipher.postMessage({ seq, counter: seq * BATCH_CHUNKS, length: used, last, pt, ct }, [pt, ct]);
    seq += 1;
    batch = null;
    used = 0;
  };
  return {
    async write(bytes) {
      let from = 0;
      while (from < bytes.length) {
        if (batch && used === BATCH) await send(false);
        if (!batch) await take();
        const n = Math.min(BATCH - used, bytes.length - from);
        new Uint8Array(batch, used, n).set(bytes.subarray(from, from + n));
        used += n;
        from += n;
      }
    },
    async close() {
      if (!batch) await take();
      await send(true);
      await until(() => sealed !== null);
      return sealed;
    },
    stop() {
      cipher.terminate();
      sink.terminate();
    },
  };
}

// The part's tar (lib/tar.js), each file hashed for the manifest as it is read.
async function tarInto(members, finish, write, onBytes, busy) {
  const files = [];
  let t = performance.now();
  const lap = (what) => {
    const now = performance.now();
    busy[what] += now - t;
    t = now;
  };
  for (const m of members) {
    await write(memberHeader(m.name, m.file.size));
    const hasher = await createSHA256();
    let remaining = m.file.size;
    const reader = m.file.stream().getReader();
    for (;;) {
      lap("other");
      const { done, value } = await reader.read();
      lap("read");
      if (done) break;
      if (value.length > remaining) throw new CodedError("bid_source_changed", `${m.name} grew while sealing`);
      remaining -= value.length;
      hasher.update(value);
      lap("hash");
      await write(value);
      lap("batch");
      onBytes(value.length);
    }
    if (remaining !== 0) throw new CodedError("bid_source_changed", `${m.name} shrank while sealing`);
    files.push({ name: m.name, size: m.file.size, sha256: hasher.digest("hex") });
    await write(padding(m.file.size));
  }
  for (const [name, data] of await finish(files)) {
    await write(memberHeader(name, data.length));
    await write(data);
    await write(padding(data.length));
  }
  await write(new Uint8Array(1024)); // the end-of-archive marker
}

async function seal(job, post) {
  const members = orderMembers(job.files);
  const total = tarSize(members);
  let done = 0;
  let last = 0;
  const onBytes = (n) => {
    done += n;
    const now = performance.now();
    if (now - last > 200) {
      last = now;
      post({ type: "progress", done, total });
    }
  };
  const createdAt = job.createdAt || new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const finish = async (files) => {
    const manifest = {
      v: 1,
      type: "sunbid-bid-part",
      tender: job.tender,
      lot: job.lot,
      part: job.part,
      tenderer: job.tenderer,
      files,
      tool: { name: "sunbid-web", version: job.version },
      machine_fingerprint_sha256: job.fingerprint,
      created_at: createdAt,
    };
    if (job.priceSheet) manifest.price_sheet = job.priceSheet;
    const data = canonicalBytes(manifest);
    return [
      ["manifest.json", data],
      ["manifest.json.p7s", await signDetached(data, job.signingKey, job.certificate)],
    ];
  };
  // Where the time goes (bench/browser.py prints it): milliseconds each worker spent on each step.
  const busy = { read: 0, hash: 0, batch: 0, other: 0 };
  const { prefix, key } = await ageHeader(job.recipients);
  const payload = payloadPipeline(prefix, key, job.outName);
  let sealed;
  try {
    await tarInto(members, finish, payload.write, onBytes, busy);
    sealed = await payload.close();
  } finally {
    payload.stop();
    key.fill(0);
  }
  const size = sealed.size;
  const statement = {
    v: 1,
    type: "sunbid-bid-envelope",
    tender: job.tender,
    lot: job.lot,
    part: job.part,
    tenderer: job.tenderer.credit_code,
    ciphertext_sha256: sealed.sha256,
    ciphertext_size: size,
  };
  const cms = await signDetached(canonicalBytes(statement), job.signingKey, job.certificate);
  const signature = `${canonicalJson({
    v: 1,
    type: "sunbid-bid-envelope-signature",
    statement,
    cms: toBase64(cms),
    certificate: pem("CERTIFICATE", job.certificate),
  })}\n`;
  post({ type: "progress", done: total, total });
  const profile = { ...busy, ...sealed.profile };
  for (const k of Object.keys(profile)) profile[k] = Math.round(profile[k]);
  return { signature, size, sha256: statement.ciphertext_sha256, outName: job.outName, profile };
}

// How fast this browser runs the two primitives sealing is made of, in MB/s over 64 MiB of 64 KiB
// pieces: bench/browser.py sets them beside the native ones bidtool uses, to show the lowest time any
// page could seal in on the machine (the floor that the goal is measured against).
async function primitivesRole() {
  await sodium.ready;
  const piece = crypto.getRandomValues(new Uint8Array(CHUNK));
  const rounds = 1024;
  const rate = (began) => (rounds * CHUNK) / 1e6 / ((performance.now() - began) / 1000);
  const hasher = await createSHA256();
  let began = performance.now();
  for (let i = 0; i < rounds; i++) hasher.update(piece);
  hasher.digest("hex");
  const sha256 = rate(began);
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(12);
  began = performance.now();
  for (let i = 0; i < rounds; i++) sodium.crypto_aead_chacha20poly1305_ietf_encrypt(piece, null, null, nonce, key);
  const chacha20poly1305 = rate(began);
  // WebCrypto's SHA-256 is native but takes a whole buffer, not a stream: what a format that hashed
  // the part in 16 MiB pieces (not ours) could use. Same 64 MiB, as four pieces.
  const big = new Uint8Array(16 * 1024 * 1024);
  for (let at = 0; at < big.length; at += CHUNK) big.set(piece, at);
  began = performance.now();
  for (let i = 0; i < 4; i++) await crypto.subtle.digest("SHA-256", big);
  self.postMessage({ sha256, chacha20poly1305, webcrypto_sha256: rate(began) });
}

self.onmessage = async (event) => {
  const post = (message) => self.postMessage(message);
  if (event.data.role === "primitives") return primitivesRole();
  if (event.data.role === "cipher") return cipherRole(event.data);
  if (event.data.role === "sink") {
    try {
      return await sinkRole(event.data);
    } catch (err) {
      return post({ type: "error", message: String(err.message || err) });
    }
  }
  try {
    post({ type: "done", result: await seal(event.data, post) });
  } catch (err) {
    post({ type: "error", code: err.code || "seal_failed", message: String(err.message || err) });
  }
};
