// Custodian key made in the browser (templates/bidding/custodian_key.html): an age X25519 identity is
// generated here, offered to the custodian as a file to save, and only its public half (the recipient,
// age1...) goes into the form. The private key never leaves this page: it is in no request, no cookie,
// no storage; closing the page forgets it.
import { generateX25519Identity, identityToRecipient } from "age-encryption";

function keyFile(identity, recipient) {
  // The layout age-keygen and `bidtool keygen` write, so `bidtool custodian release --identity` reads it.
  const created = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return `# created: ${created}\n# public key: ${recipient}\n${identity}\n`;
}

function start(root) {
  const form = document.getElementById("custodian-key-form");
  const recipientField = form.querySelector("input[name=recipient]");
  const submit = form.querySelector("button[type=submit]");
  const generate = root.querySelector("#keygen-generate");
  const save = root.querySelector("#keygen-save");
  const saved = root.querySelector("#keygen-saved");
  const steps = root.querySelectorAll("[data-step]");
  let url = null;

  function show(step) {
    steps.forEach((el) => {
      el.hidden = Number(el.dataset.step) > step;
    });
  }

  generate.addEventListener("click", async () => {
    generate.disabled = true;
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(new Blob([keyFile(identity, recipient)], { type: "text/plain" }));
    save.href = url;
    save.download = root.dataset.filename;
    recipientField.value = recipient;
    recipientField.readOnly = true;
    saved.checked = false;
    saved.disabled = true;
    submit.disabled = true;
    show(2);
  });
  save.addEventListener("click", () => {
    saved.disabled = false;
    show(3);
  });
  saved.addEventListener("change", () => {
    submit.disabled = !saved.checked;
  });
  root.hidden = false;
  show(1);
}

const root = document.getElementById("custodian-keygen");
if (root) start(root);
