// The part's tar, written exactly as crypto/bidpack.py writes it (docs/bid-format.md section 2): ustar
// headers with fixed fields, a pax header before a member whose name is not ASCII or longer than 100
// bytes, members sorted by the UTF-8 bytes of their names, names checked as bidtool checks them.
import { CodedError } from "./der.js";

export const BLOCK = 512;
const enc = new TextEncoder();
const WINDOWS_BAD = new Set(['\\', ":", "*", "?", '"', "<", ">", "|"]);
const DEVICES = new Set(["CON", "PRN", "AUX", "NUL"]);
for (let i = 1; i <= 9; i++) {
  DEVICES.add(`COM${i}`);
  DEVICES.add(`LPT${i}`);
}
const RESERVED = new Set(["manifest.json", "manifest.json.p7s"]);

function nameProblem(name) {
  if (!name) return "empty name";
  const raw = enc.encode(name);
  if (raw.length > 4096) return "name too long";
  if (name.startsWith("/")) return "absolute path";
  for (const ch of name) {
    const c = ch.codePointAt(0);
    if (c < 0x20 || c === 0x7f) return "control character in name";
    if (WINDOWS_BAD.has(ch)) return `character ${ch} is not allowed in names`;
  }
  for (const part of name.split("/")) {
    if (part === "" || part === "." || part === "..") return "empty, '.' or '..' path component";
    if (enc.encode(part).length > 255) return "path component too long";
    if (part.endsWith(".") || part.endsWith(" ")) return "path component ends with a dot or a space";
    if (DEVICES.has(part.split(".")[0].toUpperCase())) return "reserved device name";
  }
  return null;
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// [{name, file}] checked and sorted as the tar must have them; refused with bid_source_unsupported.
export function orderMembers(entries) {
  if (!entries.length) throw new CodedError("bid_source_unsupported", "nothing to seal");
  if (entries.length > 50000) throw new CodedError("bid_source_unsupported", "too many files");
  const files = new Set();
  const dirs = new Set();
  const sorted = entries
    .map((e) => ({ ...e, raw: enc.encode(e.name) }))
    .sort((a, b) => compareBytes(a.raw, b.raw));
  for (const { name } of sorted) {
    const problem = nameProblem(name) || (RESERVED.has(name) ? "reserved name" : null);
    if (problem) throw new CodedError("bid_source_unsupported", `${name}: ${problem}`);
    const key = name.normalize("NFC").toLowerCase();
    const parts = key.split("/");
    const prefixes = parts.slice(0, -1).map((_p, i) => parts.slice(0, i + 1).join("/"));
    if (files.has(key) || dirs.has(key) || prefixes.some((p) => files.has(p)))
      throw new CodedError("bid_source_unsupported", `${name}: colliding name`);
    files.add(key);
    prefixes.forEach((p) => dirs.add(p));
  }
  return sorted;
}

function octal(value, width) {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function ustar(name, size, mode, typeflag) {
  const h = new Uint8Array(BLOCK);
  h.set(name.subarray(0, 100), 0);
  const put = (at, text) => h.set(enc.encode(text), at);
  put(100, octal(mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(148, "        ");
  put(156, typeflag);
  put(257, "ustar\0");
  put(263, "00");
  put(329, octal(0, 8));
  put(337, octal(0, 8));
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function paxRecord(key, value) {
  const body = enc.encode(` ${key}=${value}\n`);
  let digits = String(body.length).length;
  while (String(body.length + digits).length !== digits) digits += 1;
  const out = new Uint8Array(String(body.length + digits).length + body.length);
  out.set(enc.encode(String(body.length + digits)), 0);
  out.set(body, out.length - body.length);
  return out;
}

export function padding(size) {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

// The header block(s) of one regular file (mode 0644: a browser cannot see the executable bit).
export function memberHeader(name, size) {
  if (size > 0o77777777777) throw new CodedError("bid_source_unsupported", `${name}: file too large`);
  const raw = enc.encode(name);
  const ascii = /^[\x00-\x7f]*$/.test(name);
  if (ascii && raw.length <= 100) return ustar(raw, size, 0o644, "0");
  const record = paxRecord("path", name);
  const fallback = enc.encode(Array.from(name, (ch) => (ch.codePointAt(0) < 0x80 ? ch : "?")).join(""));
  const out = [ustar(enc.encode("././@PaxHeader"), record.length, 0o644, "x"), record, padding(record.length)];
  out.push(ustar(fallback, size, 0o644, "0"));
  const total = out.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of out) {
    joined.set(p, at);
    at += p.length;
  }
  return joined;
}

export function tarSize(members) {
  let total = 0;
  for (const m of members) total += memberHeader(m.name, m.file.size).length + m.file.size + padding(m.file.size).length;
  return total;
}
