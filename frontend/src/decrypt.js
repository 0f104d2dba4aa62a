// Online decryption (在线解密) at the opening (templates/bidding/_decrypt.html, decrypt_widget): the
// tenderer's identity.txt is read in this page; each part's age header comes from the platform, the
// file key is unwrapped here (age-encryption's Decrypter.decryptHeader, which also checks the header
// MAC) and only the 16-byte file keys are sent. The answer names every part, in words.
import { Decrypter } from "age-encryption";
import { toBase64 } from "./lib/der.js";
import { readIdentityFile } from "./lib/keyfile.js";
import { send } from "./lib/post.js";

function start(widget) {
  if (widget.dataset.ready) return;
  widget.dataset.ready = "1";
  const t = JSON.parse(widget.querySelector("script[type='application/json']").textContent);
  const d = widget.dataset;
  const status = widget.querySelector(".decrypt-status");
  const results = widget.querySelector(".decrypt-results");
  const go = widget.querySelector(".decrypt-go");

  go.addEventListener("click", async () => {
    const file = widget.querySelector(".decrypt-identity").files[0];
    if (!file) {
      status.textContent = t.choose;
      return;
    }
    let identity;
    try {
      identity = readIdentityFile(await file.text());
    } catch {
      status.textContent = t.bad_file;
      return;
    }
    go.disabled = true;
    status.textContent = t.working;
    results.textContent = "";
    try {
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity);
      const keys = {};
      for (const part of d.parts.split(",").filter(Boolean)) {
        const response = await fetch(d.headerUrl.replace("PART", part), { credentials: "same-origin" });
        if (!response.ok) continue;
        const header = new Uint8Array(await response.arrayBuffer());
        try {
          keys[part] = toBase64(await decrypter.decryptHeader(header));
        } catch {
          /* not this identity's part: the platform is told nothing for it */
        }
      }
      if (!Object.keys(keys).length) {
        status.textContent = t.not_yours;
        return;
      }
      const { data } = await send(d.decryptUrl, d.csrf, { json: { file_keys: keys } });
      for (const r of data.results) {
        const li = document.createElement("li");
        li.textContent = r.text;
        li.dataset.part = r.part;
        li.dataset.status = r.status;
        li.className = r.status === "ok" ? "ok" : "warn";
        results.appendChild(li);
        // The part's row in "My bid" shows the new state at once.
        const row = widget.closest(".my-bid")?.querySelector(`tr.part-row[data-part='${r.part}']`);
        if (row && row.cells.length > 4) row.cells[4].textContent = r.state_text;
      }
      status.textContent = data.results.every((r) => r.status === "ok") ? t.all_open : "";
      widget.dataset.done = data.results.every((r) => r.status === "ok") ? "1" : "";
    } catch (err) {
      status.textContent = `${t.failed}: ${err.message}`;
    } finally {
      go.disabled = false;
    }
  });
  go.disabled = false; // listening now (the page shows it disabled until then)
}

function init() {
  document.querySelectorAll(".decrypt-widget").forEach(start);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
// The opening hall swaps in fresh regions as the board changes: set up any widget that arrived.
document.addEventListener("hall:updated", init);
