// The tenderer's key files, in the formats bidtool reads and writes (docs/bid-format.md section 1):
// signing-key.pem is a PKCS#8 ENCRYPTED PRIVATE KEY, PBES2 with PBKDF2-HMAC-SHA256 (600,000 rounds,
// 16-byte salt) and AES-256-CBC; identity.txt is an age X25519 identity with age-keygen's comment lines.
// Everything here runs on WebCrypto (PBKDF2, AES-CBC, ECDSA) and asn1js for the DER: no hand-made cipher.
import * as asn1js from "asn1js";
import { CodedError, pem, unpem } from "./der.js";

export const PBKDF2_ITERATIONS = 600000;
const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
const OID_HMAC_SHA256 = "1.2.840.113549.2.9";
const OID_HMAC_SHA1 = "1.2.840.113549.2.7";
const OID_AES256_CBC = "2.16.840.1.101.3.4.1.42";

async function pbkdf2Key(passphrase, salt, iterations, hash) {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", salt, iterations, hash },
    base,
    { name: "AES-CBC", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

// PEM of `pkcs8` (DER of a PrivateKeyInfo) under `passphrase`, as bidtool/keys.py writes it.
export async function encryptPrivateKey(pkcs8, passphrase, iterations = PBKDF2_ITERATIONS) {
  if (!passphrase) throw new CodedError("passphrase_missing");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const key = await pbkdf2Key(passphrase, salt, iterations, "SHA-256");
  const encrypted = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, pkcs8));
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [
          new asn1js.ObjectIdentifier({ value: OID_PBES2 }),
          new asn1js.Sequence({
            value: [
              new asn1js.Sequence({
                value: [
                  new asn1js.ObjectIdentifier({ value: OID_PBKDF2 }),
                  new asn1js.Sequence({
                    value: [
                      new asn1js.OctetString({ valueHex: salt }),
                      new asn1js.Integer({ value: iterations }),
                      new asn1js.Sequence({
                        value: [new asn1js.ObjectIdentifier({ value: OID_HMAC_SHA256 }), new asn1js.Null()],
                      }),
                    ],
                  }),
                ],
              }),
              new asn1js.Sequence({
                value: [
                  new asn1js.ObjectIdentifier({ value: OID_AES256_CBC }),
                  new asn1js.OctetString({ valueHex: iv }),
                ],
              }),
            ],
          }),
        ],
      }),
      new asn1js.OctetString({ valueHex: encrypted }),
    ],
  });
  return pem("ENCRYPTED PRIVATE KEY", new Uint8Array(info.toBER(false)));
}

function oid(node) {
  if (!(node instanceof asn1js.ObjectIdentifier)) throw new CodedError("bad_key_encoding");
  return node.valueBlock.toString();
}

// The PrivateKeyInfo DER inside a bidtool signing-key.pem (or any PBES2/PBKDF2/AES-256-CBC PKCS#8).
export async function decryptPrivateKey(text, passphrase) {
  const der = unpem(text, "ENCRYPTED PRIVATE KEY");
  if (!der) {
    if (unpem(text, "PRIVATE KEY")) throw new CodedError("key_not_protected");
    throw new CodedError("bad_key_encoding");
  }
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new CodedError("bad_key_encoding");
  try {
    const [algorithm, data] = parsed.result.valueBlock.value;
    const [schemeOid, params] = algorithm.valueBlock.value;
    if (oid(schemeOid) !== OID_PBES2) throw new CodedError("unsupported_key");
    const [kdf, cipher] = params.valueBlock.value;
    const [kdfOid, kdfParams] = kdf.valueBlock.value;
    if (oid(kdfOid) !== OID_PBKDF2) throw new CodedError("unsupported_key");
    const fields = kdfParams.valueBlock.value;
    const salt = fields[0].valueBlock.valueHexView;
    const iterations = fields[1].valueBlock.valueDec;
    let hash = "SHA-1";
    const prf = fields.find((f, i) => i >= 2 && f instanceof asn1js.Sequence);
    if (prf) {
      const name = oid(prf.valueBlock.value[0]);
      if (name === OID_HMAC_SHA256) hash = "SHA-256";
      else if (name !== OID_HMAC_SHA1) throw new CodedError("unsupported_key");
    }
    const [cipherOid, iv] = cipher.valueBlock.value;
    if (oid(cipherOid) !== OID_AES256_CBC) throw new CodedError("unsupported_key");
    const key = await pbkdf2Key(passphrase, salt, iterations, hash);
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-CBC", iv: iv.valueBlock.valueHexView }, key, data.valueBlock.valueHexView),
      );
    } catch {
      throw new CodedError("wrong_passphrase");
    }
  } catch (err) {
    if (err instanceof CodedError) throw err;
    throw new CodedError("bad_key_encoding");
  }
}

export async function importSigningKey(pkcs8) {
  try {
    return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  } catch {
    throw new CodedError("unsupported_key");
  }
}

// identity.txt as age-keygen and `bidtool keygen` write it.
export function identityFile(identity, recipient) {
  const created = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return `# created: ${created}\n# public key: ${recipient}\n${identity}\n`;
}

export function readIdentityFile(text) {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!line) throw new CodedError("bad_key_encoding");
  return line;
}
