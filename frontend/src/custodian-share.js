// A custodian's share opened in the opening hall (templates/bidding/_hall_board.html): the custodian
// chooses its custodian key file (age identity, made on the custodian-key page or by `bidtool keygen`);
// this page reads it, fetches the share sealed to that key, opens it here and puts only the share text
// into the release form. The key file is in no request, no cookie, no storage; the share is checked by
// the server against its published hash before it counts (R-B6).
import { Decrypter } from "age-encryption";

function identityOf(text) {
  // The layout age-keygen and `bidtool keygen` write: comment lines, then the AGE-SECRET-KEY-1... line.
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith("AGE-SECRET-KEY-"));
  return line || null;
}

function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function openShare(root) {
  const status = root.querySelector("#share-status");
  const file = root.querySelector("#identity-file").files[0];
  const region = root.closest("[data-region]");
  if (!file) {
    status.textContent = root.dataset.noKey;
    return;
  }
  if (region) region.setAttribute("data-keep", "1"); // the live board leaves this form alone now
  const identity = identityOf(await file.text());
  if (!identity) {
    status.textContent = root.dataset.wrongKey;
    return;
  }
  let sealed;
  try {
    const response = await fetch(root.dataset.shareUrl, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    sealed = await response.json();
  } catch (error) {
    status.textContent = root.dataset.failed;
    return;
  }
  let share;
  try {
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    share = await decrypter.decrypt(fromBase64(sealed.sealed), "text");
  } catch (error) {
    status.textContent = root.dataset.wrongKey;
    return;
  }
  root.querySelector("#share-text").value = share.trim();
  root.querySelector("#release-form").hidden = false;
  root.querySelector("#release-share").disabled = false;
  root.querySelector("#open-share").disabled = true;
  status.textContent = "✓";
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("#open-share");
  if (!button) return;
  const root = button.closest("#custodian-release");
  if (root) openShare(root);
});
