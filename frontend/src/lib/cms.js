// Detached CMS SignedData (docs/bid-format.md section 4) made with pkijs on WebCrypto: one SignerInfo,
// SHA-256 and ECDSA, signed attributes content-type, signing-time and message-digest (in DER order,
// as verifiers re-encode them), and exactly one certificate: the signer's.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const OID_DATA = "1.2.840.113549.1.7.1";
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";

pkijs.setEngine("webcrypto", new pkijs.CryptoEngine({ name: "webcrypto", crypto: globalThis.crypto }));

function compare(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function parseCertificate(der) {
  return pkijs.Certificate.fromBER(der);
}

export async function signDetached(content, privateKey, certificateDer) {
  const certificate = parseCertificate(certificateDer);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", content));
  const attributes = [
    new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
    new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [new asn1js.UTCTime({ valueDate: new Date() })] }),
    new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
  ];
  attributes.sort((x, y) =>
    compare(new Uint8Array(x.toSchema().toBER(false)), new Uint8Array(y.toSchema().toBER(false))),
  );
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({
          issuer: certificate.issuer,
          serialNumber: certificate.serialNumber,
        }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
    certificates: [certificate],
  });
  await signed.sign(privateKey, 0, "SHA-256", content);
  const info = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signed.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER(false));
}
