// Canonical JSON as crypto/canonical.py writes it: keys sorted by code point, no whitespace, integers
// only, non-ASCII characters as themselves, strings escaped as Python's json.dumps does (which for this
// subset is what JSON.stringify does too).
import { CodedError } from "./der.js";

function byCodePoint(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new CodedError("bid_manifest_invalid", "integers only");
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(byCodePoint);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalJson(value));
}
