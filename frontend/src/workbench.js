// "My bid" on the tender page (templates/bidding/_my_bid.html): the tenderer unlocks its key files
// (signing-key.pem under its passphrase, identity.txt), chooses each part's files, fills the price
// sheet, and the page seals the part in a Web Worker (seal-worker.js, the format of docs/bid-format.md)
// and uploads it in resumable chunks. The keys are read in this page only: no request carries them.
import { identityToRecipient } from "age-encryption";
import { CodedError, unpem } from "./lib/der.js";
import { decryptPrivateKey, importSigningKey, readIdentityFile } from "./lib/keyfile.js";
import { parseCertificate } from "./lib/cms.js";
import { uploadPart } from "./lib/upload.js";
import { fenToWords, wordsToFen } from "./lib/words.js";

const VERSION = "1";
const workerUrl = new URL("seal-worker.js", document.currentScript ? document.currentScript.src : location.href);

function format(text, values) {
  return text.replace(/\{(\w+)\}/g, (_m, k) => values[k]);
}

function yuanToFen(text) {
  const clean = String(text || "").replace(/[,，\s¥]/g, "");
  if (!/^\d{1,13}(\.\d{1,2})?$/.test(clean)) return null;
  const [whole, frac = ""] = clean.split(".");
  return Number(whole) * 100 + Number((frac + "00").slice(0, 2));
}

function showFen(fen) {
  return (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// 机器码 in a browser: the hash of an identifier this browser keeps (a browser cannot read the machine's
// identifiers); it still tells two bids prepared in the same browser profile apart from others (R-B8).
async function fingerprint() {
  let id = localStorage.getItem("sunbid-machine-id");
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem("sunbid-machine-id", id);
  }
  const text = `sunbid-machine-fingerprint-v1\nbrowser=${id}\n`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sameKey(signingKey, certificateDer) {
  // The key belongs to the certificate when a signature made with it verifies with the certificate's key.
  const cert = parseCertificate(certificateDer);
  const spki = cert.subjectPublicKeyInfo.toSchema().toBER(false);
  const publicKey = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const algorithm = { name: "ECDSA", hash: "SHA-256" };
  const signature = await crypto.subtle.sign(algorithm, signingKey, probe);
  return crypto.subtle.verify(algorithm, publicKey, signature, probe);
}

function priceSheet(box, t) {
  const fen = yuanToFen(box.querySelector(".ps-total").value);
  const words = box.querySelector(".ps-words").value.trim();
  if (fen === null || !words) throw new CodedError("price", t.missing_price);
  let said;
  try {
    said = wordsToFen(words);
  } catch {
    throw new CodedError("price", format(t.words_unreadable, { example: fenToWords(fen) }));
  }
  if (said !== fen) {
    throw new CodedError("price", format(t.words_mismatch, { words: showFen(said), figures: showFen(fen) }));
  }
  const items = [];
  box.querySelectorAll(".ps-items tbody tr").forEach((row) => {
    const name = row.querySelector(".ps-item-name").value.trim();
    const amount = yuanToFen(row.querySelector(".ps-item-amount").value);
    if (name && amount !== null) items.push({ name, amount_fen: amount });
  });
  if (!items.length) items.push({ name: "投标总价", amount_fen: fen });
  const sum = items.reduce((n, i) => n + i.amount_fen, 0);
  if (sum !== fen) throw new CodedError("price", format(t.sum_mismatch, { sum: showFen(sum), total: showFen(fen) }));
  const sheet = { currency: "CNY", total_fen: fen, items };
  const number = (cls) => {
    const v = box.querySelector(cls).value.trim();
    return v ? Number.parseInt(v, 10) : undefined;
  };
  const text = (cls) => box.querySelector(cls).value.trim() || undefined;
  sheet.duration_days = number(".ps-duration");
  sheet.validity_days = number(".ps-validity");
  sheet.warranty_days = number(".ps-warranty");
  sheet.quality = text(".ps-quality");
  sheet.project_manager = text(".ps-pm");
  sheet.remarks = text(".ps-remarks");
  for (const k of Object.keys(sheet)) if (sheet[k] === undefined) delete sheet[k];
  return sheet;
}

function memberName(file) {
  // A folder chosen whole (webkitdirectory) keeps its inner paths, without the folder itself.
  const path = file.webkitRelativePath || file.name;
  const parts = path.split("/");
  return parts.length > 1 ? parts.slice(1).join("/") : path;
}

async function opfsFile(name) {
  try {
    const root = await navigator.storage.getDirectory();
    return await (await root.getFileHandle(name)).getFile();
  } catch {
    return null;
  }
}

async function opfsRemove(name) {
  try {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry(name);
  } catch {
    /* nothing to remove */
  }
}

function start(bench) {
  const t = JSON.parse(bench.querySelector("script[type='application/json']").textContent);
  const d = bench.dataset;
  const certificateDer = unpem(d.certificate, "CERTIFICATE");
  const keysStatus = bench.querySelector(".keys-status");
  let keys = null;

  function errorText(err) {
    if (err.code && t.errors[err.code]) return err.code === "bid_source_unsupported" ? `${t.errors[err.code]}: ${err.message}` : t.errors[err.code];
    return err.message || String(err);
  }

  bench.querySelector(".unlock").addEventListener("click", async () => {
    keysStatus.textContent = t.unlocking;
    try {
      const keyFile = bench.querySelector(".signing-key").files[0];
      const identityFileInput = bench.querySelector(".identity").files[0];
      if (!keyFile || !identityFileInput) throw new CodedError("missing", t.unlock_first);
      const pkcs8 = await decryptPrivateKey(await keyFile.text(), bench.querySelector(".passphrase").value);
      const signingKey = await importSigningKey(pkcs8);
      pkcs8.fill(0);
      if (!(await sameKey(signingKey, certificateDer))) throw new CodedError("bid_key_mismatch");
      const identity = readIdentityFile(await identityFileInput.text());
      const recipient = await identityToRecipient(identity);
      keys = { signingKey, recipient };
      bench.querySelector(".passphrase").value = "";
      keysStatus.textContent = t.unlocked;
      keysStatus.className = "keys-status ok";
    } catch (err) {
      keys = null;
      keysStatus.textContent = errorText(err);
      keysStatus.className = "keys-status error";
    }
  });

  bench.querySelectorAll(".seal-part").forEach(async (box) => {
    const part = box.dataset.part;
    const go = box.querySelector(".seal-go");
    const cancel = box.querySelector(".seal-cancel");
    const bar = box.querySelector(".seal-progress");
    const status = box.querySelector(".seal-status");
    const outName = `sunbid-${d.bid}-${part}.age`;
    const sigKey = `sunbid-sig-${d.bid}-${part}`;
    const chunksKey = `sunbid-chunks-${d.bid}-${part}`; // the upload chunks' SHA-256, made while sealing
    let worker = null;
    let aborter = null;

    function say(text, cls) {
      status.textContent = text;
      status.className = `seal-status ${cls || ""}`;
    }
    function busy(on) {
      go.disabled = on;
      cancel.hidden = !on;
      bar.hidden = !on;
    }

    async function upload(blob, signature, started) {
      aborter = new AbortController();
      await uploadPart({
        beginUrl: d.uploadUrl.replace("PART", part),
        chunkUrl: d.chunkUrl,
        csrf: d.csrf,
        blob,
        signature,
        chunkSha256: JSON.parse(localStorage.getItem(chunksKey) || "null"),
        signal: aborter.signal,
        onProgress: (done, total, speed) => {
          bar.value = total ? Math.floor((100 * done) / total) : 100;
          say(format(t.uploading, { pct: bar.value, speed: (speed / 1e6).toFixed(1) }));
        },
        onRetry: (offset) => say(format(t.retrying, { offset })),
      });
      localStorage.removeItem(sigKey);
      localStorage.removeItem(chunksKey);
      await opfsRemove(outName);
      say(t.uploaded, "ok");
      if (started) box.dataset.uploadMs = String(Math.round(performance.now() - started));
      box.dataset.done = "1";
      go.hidden = true;
      const row = document.querySelector(`#bid-${d.bid} tr.part-row[data-part='${part}']`);
      if (row) {
        row.dataset.state = "received";
        row.cells[1].textContent = t.received;
      }
      // Every part in: the page shows the parts as the platform holds them, and the submit button.
      if (Array.from(bench.querySelectorAll(".seal-part")).every((b) => b.dataset.done)) location.reload();
    }

    go.addEventListener("click", async () => {
      const resumable = localStorage.getItem(sigKey);
      const earlier = resumable ? await opfsFile(outName) : null;
      if (earlier) {
        busy(true);
        try {
          await upload(earlier, resumable);
        } catch (err) {
          say(errorText(err), "error");
        } finally {
          busy(false);
        }
        return;
      }
      if (!keys) return say(t.unlock_first, "error");
      const chosen = Array.from(box.querySelector(".part-files").files);
      if (!chosen.length) return say(t.choose_files, "error");
      let sheet = null;
      try {
        if (part === "commercial") sheet = priceSheet(box.querySelector(".price-sheet"), t);
      } catch (err) {
        return say(err.message, "error");
      }
      busy(true);
      bar.value = 0;
      say(format(t.sealing, { pct: 0 }));
      // The copy sealed before (if any) is overwritten from here: its signature no longer fits it.
      localStorage.removeItem(sigKey);
      localStorage.removeItem(chunksKey);
      const sealStarted = performance.now();
      const machine = await fingerprint();
      worker = new Worker(workerUrl);
      const result = await new Promise((resolve) => {
        worker.onmessage = (event) => {
          const m = event.data;
          if (m.type === "progress") {
            bar.value = m.total ? Math.floor((100 * m.done) / m.total) : 0;
            say(format(t.sealing, { pct: bar.value }));
          } else resolve(m);
        };
        worker.onerror = (event) => resolve({ type: "error", code: "seal_failed", message: event.message });
        worker.postMessage({
          files: chosen.map((file) => ({ name: memberName(file), file })),
          part,
          tender: d.tender,
          lot: Number(d.lot),
          priceSheet: sheet,
          recipients: [d.openingKey, keys.recipient],
          signingKey: keys.signingKey,
          certificate: certificateDer,
          tenderer: { credit_code: d.creditCode, name: d.orgName },
          fingerprint: machine,
          version: VERSION,
          outName,
        });
        cancel.onclick = () => {
          worker.terminate();
          resolve({ type: "cancelled" });
        };
      });
      worker.terminate();
      worker = null;
      if (result.type !== "done") {
        busy(false);
        await opfsRemove(outName);
        return say(result.type === "cancelled" ? t.cancelled : errorText(result), result.type === "cancelled" ? "" : "error");
      }
      localStorage.setItem(sigKey, result.result.signature);
      localStorage.setItem(chunksKey, JSON.stringify(result.result.chunkSha256));
      cancel.onclick = () => aborter && aborter.abort();
      // How long each step took, for whoever measures (bench/browser.py): sealing, then the upload.
      box.dataset.sealMs = String(Math.round(performance.now() - sealStarted));
      box.dataset.sealProfile = JSON.stringify(result.result.profile);
      try {
        await upload(await opfsFile(outName), result.result.signature, performance.now());
      } catch (err) {
        say(err.name === "AbortError" ? t.cancelled : errorText(err), "error");
      } finally {
        busy(false);
      }
    });

    // A part sealed here earlier whose upload did not finish: offer to go on from the platform's copy
    // (asked once the button listens: the bench is shown before this answer comes).
    const pending = localStorage.getItem(sigKey);
    const sealedBefore = pending ? await opfsFile(outName) : null;
    if (pending && sealedBefore) {
      say(t.resume);
      box.dataset.resumable = "1";
    }
  });
  bench.hidden = false;
}

document.querySelectorAll(".seal-bench").forEach(start);
