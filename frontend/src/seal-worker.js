// Sealing a bid part in Web Workers (docs/bid-format.md): the files are read once, streamed into the
// tar while each is hashed for the manifest, the manifest is signed (inner CMS), the tar is encrypted
// with age to the tender's opening key and the tenderer's own recipient, and the ciphertext is written
// to the origin-private file system and hashed as it comes. Then the statement is signed (outer CMS)
// into OUT.sig.
//
// Speed: the steps that cost run in three workers started from this same script, batch after batch,
// so that two cores or more share the work: this one reads the files and hashes them (SHA-256); the
// cipher worker seals (ChaCha20-Poly1305), writes and hashes the upload's chunks (WebCrypto); the
// digest worker hashes the whole ciphertext for the signed statement. age's header (the file key
// wrapped to each recipient, the header MAC) comes from age-encryption; the payload is age v1's
// STREAM (64 KiB chunks, nonce = 11-byte big-endian counter || last-chunk flag) sealed with
// libsodium's ChaCha20-Poly1305 (WASM, about 3x the pure-JS @noble/ciphers that age-encryption
// would use).
//
// Memory stays bounded whatever the size: DEPTH plaintext and DEPTH ciphertext batches of BATCH
// bytes go round between the workers (transferred, never copied by postMessage) and are reused.
import { Encrypter } from "age-encryption";
import { createSHA256 } from "hash-wasm";
import sodium from "libsodium-wrappers";
import { canonicalBytes, canonicalJson } from "./lib/canonical.js";
import { signDetached } from "./lib/cms.js";
import { CodedError, hex, pem, toBase64 } from "./lib/der.js";
import { memberHeader, orderMembers, padding, tarSize } from "./lib/tar.js";
import { UPLOAD_CHUNK } from "./lib/upload.js";

const CHUNK = 64 * 1024; // age v1 STREAM's plaintext chunk
const TAG = 16; // its Poly1305 tag
const BATCH_CHUNKS = 32;
const BATCH = BATCH_CHUNKS * CHUNK;
const DEPTH = 6;

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

// The upload's chunks (lib/upload.js), each hashed on its own as the ciphertext is made, so that
// the upload need not read and hash the file again first. WebCrypto is native but takes whole
// buffers: the chunk is gathered in one buffer, which digest() copies before it returns (the spec's
// "get a copy of the bytes"), so the buffer is refilled at once.
function uploadChunkDigests() {
  const piece = new Uint8Array(UPLOAD_CHUNK);
  let held = 0;
  const digests = [];
  return {
    take(bytes) {
      for (let from = 0; from < bytes.length; ) {
        const n = Math.min(UPLOAD_CHUNK - held, bytes.length - from);
        piece.set(bytes.subarray(from, from + n), held);
        held += n;
        from += n;
        if (held === UPLOAD_CHUNK) {
          digests.push(crypto.subtle.digest("SHA-256", piece));
          held = 0;
        }
      }
    },
    async finish() {
      if (held) digests.push(crypto.subtle.digest("SHA-256", piece.subarray(0, held)));
      return (await Promise.all(digests)).map((d) => hex(d));
    },
  };
}

// The cipher worker: each batch's chunks sealed in order, the counter running on from the batch's
// first chunk, and written to the origin-private file system; the ciphertext then goes on to the
// digest worker, the plaintext buffer back to be filled again. Writing here rather than beside the
// ciphertext hash keeps the three workers' loads near equal (on two cores the longest one sets the
// pace). libsodium's own entry point is called on buffers kept in its WASM memory: its wrapper
// allocates and copies every 64 KiB chunk in and out, and a GiB of fresh allocations cost the
// kernel over half a second of page zeroing (perf, bench/browser.py).
function cipherRole(first) {
  const { key, port, prefix, outName } = first;
  const busy = { cipher: 0, write: 0, chunks: 0 };
  let size = 0;
  const ready = (async () => {
    await sodium.ready;
    const lib = sodium.libsodium;
    const at = {
      plain: lib._malloc(BATCH),
      sealed: lib._malloc(BATCH + BATCH_CHUNKS * TAG),
      nonce: lib._malloc(12),
      key: lib._malloc(32),
    };
    lib.HEAPU8.set(key, at.key);
    key.fill(0);
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(outName, { create: true });
    const file = await handle.createSyncAccessHandle();
    file.truncate(0);
    file.write(prefix, { at: 0 });
    size = prefix.length;
    const chunks = uploadChunkDigests();
    chunks.take(prefix);
    return { lib, at, file, chunks };
  })();
  const sealBatch = ({ lib, at }, counter, length, last, plain, sealed) => {
    const heap = lib.HEAPU8;
    heap.set(plain, at.plain);
    const chunks = Math.max(1, Math.ceil(length / CHUNK));
    let out = 0;
    for (let k = 0; k < chunks; k++) {
      let c = counter + k;
      for (let b = 10; b >= 0; b--) {
        heap[at.nonce + b] = c % 256;
        c = Math.floor(c / 256);
      }
      heap[at.nonce + 11] = last && k === chunks - 1 ? 1 : 0;
      const from = k * CHUNK;
      const n = Math.min(CHUNK, length - from);
      // (c, clen_p, m, mlen as two 32-bit halves, ad, adlen as two halves, nsec, npub, k)
      const rc = lib._crypto_aead_chacha20poly1305_ietf_encrypt(
        at.sealed + out, 0, at.plain + from, n, 0, 0, 0, 0, 0, at.nonce, at.key,
      );
      if (rc !== 0) throw new Error("ChaCha20-Poly1305 failed");
      out += n + TAG;
    }
    sealed.set(heap.subarray(at.sealed, at.sealed + out));
    return out;
  };
  const finish = ({ lib, at, file }) => {
    file.flush();
    file.close();
    lib.HEAPU8.fill(0, at.key, at.key + 32);
    lib.HEAPU8.fill(0, at.plain, at.plain + BATCH);
    for (const p of Object.values(at)) lib._free(p);
  };
  // Batches are handled one after the other in the order they came (the set-up is awaited once).
  let queue = ready;
  self.onmessage = (event) => {
    const { counter, length, last, pt, ct } = event.data;
    queue = queue
      .then(async (state) => {
        const began = performance.now();
        const n = sealBatch(state, counter, length, last, new Uint8Array(pt, 0, length), new Uint8Array(ct));
        const sealedAt = performance.now();
        const out = new Uint8Array(ct, 0, n);
        state.file.write(out, { at: size });
        size += n;
        const written = performance.now();
        state.chunks.take(out);
        busy.cipher += sealedAt - began;
        busy.write += written - sealedAt;
        busy.chunks += performance.now() - written;
        let chunkSha256 = null;
        if (last) {
          finish(state);
          chunkSha256 = await state.chunks.finish();
        }
        port.postMessage({ length: n, last, ct, size, busy, chunkSha256 }, [ct]);
        self.postMessage({ pt }, [pt]);
        return state;
      })
      .catch((err) => {
        self.postMessage({ error: String(err.message || err) });
        return new Promise(() => {}); // nothing more is sealed after a failure
      });
  };
}

// The digest worker: the age file (header, then the batches in order) hashed for the signed
// statement; each ciphertext buffer goes back to the sealing worker once hashed.
async function digestRole(first) {
  const hasher = await createSHA256();
  let hashMs = 0;
  hasher.update(first.prefix);
  // One cipher worker sends the batches over one port, which keeps their order.
  first.port.onmessage = (event) => {
    const { length, last, ct, size, busy, chunkSha256 } = event.data;
    try {
      const began = performance.now();
      hasher.update(new Uint8Array(ct, 0, length));
      hashMs += performance.now() - began;
      self.postMessage({ type: "ct", ct }, [ct]);
      if (last) {
        const profile = { ...busy, digest: hashMs };
        self.postMessage({ type: "sealed", sha256: hasher.digest("hex"), size, chunkSha256, profile });
      }
    } catch (err) {
      self.postMessage({ type: "error", message: String(err.message || err) });
    }
  };
}

// The age payload from the sealing worker's side: tar bytes go into plaintext batches (copied, or
// read straight into them), and a full batch is sent on only once more bytes follow, so that the
// last one carries the final flag.
function payloadPipeline(prefix, key, outName) {
  const cipher = new Worker(self.location.href);
  const digest = new Worker(self.location.href);
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
  digest.onmessage = (event) => {
    const m = event.data;
    if (m.type === "ct") freeCt.push(m.ct);
    else if (m.type === "sealed") sealed = m;
    else if (m.type === "error") fail(m.message);
    poke();
  };
  cipher.onerror = (event) => fail(event.message || "the cipher worker failed");
  digest.onerror = (event) => fail(event.message || "the digest worker failed");
  cipher.postMessage({ role: "cipher", key, prefix, outName, port: channel.port1 }, [channel.port1]);
  digest.postMessage({ role: "digest", prefix, port: channel.port2 }, [channel.port2]);

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
    cipher.postMessage({ counter: seq * BATCH_CHUNKS, length: used, last, pt, ct }, [pt, ct]);
    seq += 1;
    batch = null;
    used = 0;
  };
  return {
    async write(bytes) {
      let from = 0;
      while (from < bytes.length) {
        const room = await this.space();
        const n = Math.min(room.length, bytes.length - from);
        room.set(bytes.subarray(from, from + n));
        used += n;
        from += n;
      }
    },
    // The free end of the current batch, for a reader to fill in place (filled() says how much).
    async space() {
      if (batch && used === BATCH) await send(false);
      if (!batch) await take();
      return new Uint8Array(batch, used, BATCH - used);
    },
    // A BYOB read hands the batch back as a new ArrayBuffer over the same memory.
    filled(view) {
      batch = view.buffer;
      used += view.length;
    },
    async close() {
      if (!batch) await take();
      await send(true);
      await until(() => sealed !== null);
      return sealed;
    },
    stop() {
      cipher.terminate();
      digest.terminate();
    },
  };
}

// The part's tar (lib/tar.js), each file hashed for the manifest as it is read. Where the browser
// can (Blob streams are byte streams in Chromium, and lately elsewhere), a file is read straight into
// the plaintext batch: no fresh buffer for each 64 KiB read and no copy.
async function tarInto(members, finish, payload, onBytes, busy) {
  const files = [];
  let t = performance.now();
  const lap = (what) => {
    const now = performance.now();
    busy[what] += now - t;
    t = now;
  };
  const write = (bytes) => payload.write(bytes);
  for (const m of members) {
    await write(memberHeader(m.name, m.file.size));
    const hasher = await createSHA256();
    let remaining = m.file.size;
    const stream = m.file.stream();
    let byob = null;
    try {
      byob = stream.getReader({ mode: "byob" });
    } catch {
      // not a byte stream here: the default reader below
    }
    const reader = byob || stream.getReader();
    for (;;) {
      lap("other");
      let value;
      let done;
      if (byob && remaining > 0) {
        const room = await payload.space();
        lap("batch");
        ({ value, done } = await byob.read(room.subarray(0, Math.min(room.length, remaining))));
        if (value) payload.filled(value);
      } else {
        // the default reader, or the read after a file's last byte that must find its end
        ({ value, done } = await reader.read(byob ? new Uint8Array(1) : undefined));
      }
      lap("read");
      if (done) break;
      if (value.length > remaining) throw new CodedError("bid_source_changed", `${m.name} grew while sealing`);
      remaining -= value.length;
      hasher.update(value);
      lap("hash");
      if (!byob) {
        await write(value);
        lap("batch");
      }
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
    await tarInto(members, finish, payload, onBytes, busy);
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
  const { chunkSha256 } = sealed;
  return { signature, size, sha256: statement.ciphertext_sha256, chunkSha256, outName: job.outName, profile };
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
  if (event.data.role === "digest") {
    try {
      return await digestRole(event.data);
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
