// Sealing a bid part in a Web Worker (docs/bid-format.md): the files are read once, streamed into the
// tar while each is hashed for the manifest, the manifest is signed (inner CMS), the tar is encrypted
// with age to the tender's opening key and the tenderer's own recipient, and the ciphertext is hashed
// and written to the origin-private file system as it comes: memory stays bounded (a few chunks of
// 64 KiB) whatever the size. Then the statement is signed (outer CMS) into OUT.sig.
import { Encrypter } from "age-encryption";
import { createSHA256 } from "hash-wasm";
import { canonicalBytes, canonicalJson } from "./lib/canonical.js";
import { signDetached } from "./lib/cms.js";
import { CodedError, pem, toBase64 } from "./lib/der.js";
import { memberHeader, orderMembers, padding, tarSize } from "./lib/tar.js";


function tarStream(members, finish, onBytes) {
  // A pull stream: the next piece is produced only when the encryptor asks for it (backpressure).
  // Each pull must enqueue something or close: a pull that returns empty-handed is not called again.
  let index = 0;
  let reader = null;
  let hasher = null;
  let remaining = 0;
  let tail = null;
  const files = [];

  async function next() {
    // The next non-empty piece of the tar, or null at its end.
    for (;;) {
      if (tail) return tail.shift() || null;
      if (reader) {
        const m = members[index];
        const { done, value } = await reader.read();
        if (done) {
          if (remaining !== 0) throw new CodedError("bid_source_changed", `${m.name} shrank while sealing`);
          files.push({ name: m.name, size: m.file.size, sha256: hasher.digest("hex") });
          reader = null;
          index += 1;
          const pad = padding(m.file.size);
          if (pad.length) return pad;
          continue;
        }
        if (value.length > remaining) throw new CodedError("bid_source_changed", `${m.name} grew while sealing`);
        if (!value.length) continue;
        remaining -= value.length;
        hasher.update(value);
        onBytes(value.length);
        return value;
      }
      if (index < members.length) {
        const m = members[index];
        hasher = await createSHA256();
        remaining = m.file.size;
        reader = m.file.stream().getReader();
        return memberHeader(m.name, m.file.size);
      }
      const pieces = [];
      for (const [name, data] of await finish(files)) pieces.push(memberHeader(name, data.length), data, padding(data.length));
      pieces.push(new Uint8Array(1024)); // the end-of-archive marker
      tail = pieces.filter((p) => p.length);
    }
  }

  return new ReadableStream(
    {
      async pull(controller) {
        const piece = await next();
        if (piece) controller.enqueue(piece);
        else controller.close();
      },
      cancel() {
        if (reader) reader.cancel();
      },
    },
    { highWaterMark: 0 },
  );
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
  const encrypter = new Encrypter();
  for (const r of job.recipients) encrypter.addRecipient(r);
  const sealed = await encrypter.encrypt(tarStream(members, finish, onBytes));
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(job.outName, { create: true });
  const out = await handle.createSyncAccessHandle();
  const outer = await createSHA256();
  let size = 0;
  try {
    out.truncate(0);
    const reader = sealed.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      outer.update(value);
      out.write(value, { at: size });
      size += value.length;
    }
    out.flush();
  } finally {
    out.close();
  }
  const statement = {
    v: 1,
    type: "sunbid-bid-envelope",
    tender: job.tender,
    lot: job.lot,
    part: job.part,
    tenderer: job.tenderer.credit_code,
    ciphertext_sha256: outer.digest("hex"),
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
  return { signature, size, sha256: statement.ciphertext_sha256, outName: job.outName };
}

self.onmessage = async (event) => {
  const post = (message) => self.postMessage(message);
  try {
    post({ type: "done", result: await seal(event.data, post) });
  } catch (err) {
    post({ type: "error", code: err.code || "seal_failed", message: String(err.message || err) });
  }
};

