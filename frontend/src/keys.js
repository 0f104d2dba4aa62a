// Keys and certificates made in the browser (templates/accounts/_browser_keys.html): the signing key
// (ECDSA P-256) and the encryption identity (age X25519) are generated here and saved by the tenderer as
// the files bidtool keygen writes (signing-key.pem under a passphrase, identity.txt, recipient.txt,
// signing.csr). Only the request and the public recipient go to the platform; the certificates come back.
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { signingRequest } from "./lib/csr.js";
import { encryptPrivateKey, identityFile } from "./lib/keyfile.js";
import { send } from "./lib/post.js";

function fileLink(link, name, text) {
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
  link.download = name;
  link.hidden = false;
}

function start(root) {
  const t = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const passphrase = root.querySelector("#key-passphrase");
  const confirm = root.querySelector("#key-passphrase-again");
  const make = root.querySelector("#keys-generate");
  const status = root.querySelector("#keys-status");
  const files = root.querySelector("#keys-files");
  const saved = root.querySelector("#keys-saved");
  const request = root.querySelector("#keys-request");
  const issued = root.querySelector("#keys-issued");
  let made = null;

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "flash error" : "flash flash-info";
    status.hidden = !text;
  }

  make.addEventListener("click", async () => {
    if (passphrase.value.length < 8) return say(t.short, true);
    if (passphrase.value !== confirm.value) return say(t.differ, true);
    make.disabled = true;
    say(t.making);
    try {
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
      const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
      const identity = await generateX25519Identity();
      const recipient = await identityToRecipient(identity);
      made = {
        csr: await signingRequest(pair, root.dataset.person),
        recipient,
        key: await encryptPrivateKey(pkcs8, passphrase.value),
        identity: identityFile(identity, recipient),
      };
      pkcs8.fill(0);
      fileLink(files.querySelector("[data-file='signing-key.pem']"), "signing-key.pem", made.key);
      fileLink(files.querySelector("[data-file='identity.txt']"), "identity.txt", made.identity);
      fileLink(files.querySelector("[data-file='recipient.txt']"), "recipient.txt", `${recipient}\n`);
      fileLink(files.querySelector("[data-file='signing.csr']"), "signing.csr", made.csr);
      files.hidden = false;
      passphrase.value = confirm.value = "";
      say(t.made);
    } catch (err) {
      say(`${t.failed} (${err.code || err.message})`, true);
      make.disabled = false;
    }
  });
  saved.addEventListener("change", () => {
    request.disabled = !saved.checked || !made;
  });
  request.addEventListener("click", async () => {
    request.disabled = true;
    try {
      const { data } = await send(root.dataset.url, root.dataset.csrf, {
        json: { csr_pem: made.csr, recipient: made.recipient },
      });
      fileLink(issued.querySelector("[data-file='certificate.pem']"), "certificate.pem", data.signing.certificate_pem);
      fileLink(issued.querySelector("[data-file='encryption-cert.pem']"), "encryption-cert.pem", data.encryption.certificate_pem);
      fileLink(issued.querySelector("[data-file='chain.pem']"), "chain.pem", data.chain.join(""));
      issued.hidden = false;
      say(t.issued);
    } catch (err) {
      say(err.message, true);
      request.disabled = false;
    }
  });
  root.hidden = false;
}

const root = document.getElementById("browser-keys");
if (root) start(root);
