// The PKCS#10 request for the signing key (pkijs on WebCrypto). The platform CA takes the subject from
// the account (organisation, credit code, person), so the request names the person only.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { pem } from "./der.js";

pkijs.setEngine("webcrypto", new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto }));

export async function signingRequest(keyPair, person) {
  const csr = new pkijs.CertificationRequest();
  csr.attributes = []; // PKCS#10 requires the (empty) [0] attributes field: strict readers refuse it absent
  csr.subject.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({ type: "2.5.4.3", value: new asn1js.Utf8String({ value: person }) }),
  );
  await csr.subjectPublicKeyInfo.importKey(keyPair.publicKey);
  await csr.sign(keyPair.privateKey, "SHA-256");
  return pem("CERTIFICATE REQUEST", new Uint8Array(csr.toSchema().toBER(false)));
}
