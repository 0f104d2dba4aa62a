// The platform's resumable upload (bidding/uploads.py), from the page: OUT.sig first (the answer says
// where the platform's copy stops), then chunks with their offset and SHA-256. A dropped connection is
// retried from the platform's offset, so a closed laptop lid or a flaky network costs only a chunk.
import { hex, toBase64 } from "./der.js";
import { send } from "./post.js";

const CHUNK = 16 * 1024 * 1024;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function uploadPart({ beginUrl, chunkUrl, csrf, blob, signature, onProgress, onRetry, signal }) {
  const sigHeader = toBase64(new TextEncoder().encode(signature));
  const begin = async () =>
    (await send(beginUrl, csrf, { headers: { "X-Bid-Signature": sigHeader }, signal })).data;
  let state = await begin();
  const url = chunkUrl.replace("00000000-0000-0000-0000-000000000000", state.id);
  const step = Math.min(state.chunk_max, CHUNK);
  let offset = state.offset;
  let failures = 0;
  const started = performance.now();
  const startOffset = offset;
  // The next chunk is read and hashed while this one goes up, so the line never waits for the disk.
  const prepare = async (at) => {
    const piece = blob.slice(at, Math.min(at + step, blob.size));
    return { at, piece, digest: hex(await crypto.subtle.digest("SHA-256", await piece.arrayBuffer())) };
  };
  const ahead = (at) => (at < blob.size ? prepare(at).catch(() => null) : Promise.resolve(null));
  let next = ahead(offset);
  onProgress(offset, blob.size, 0);
  while (true) {
    let chunk = await next;
    if (!chunk || chunk.at !== offset) chunk = await prepare(offset); // after a retry or a refusal
    const { piece, digest } = chunk;
    next = ahead(offset + piece.size);
    try {
      const answer = await send(url, csrf, {
        method: "PATCH",
        body: piece, // a Blob goes up from the file as it is: an ArrayBuffer body is copied (8x slower)
        signal,
        headers: { "Content-Type": "application/octet-stream", "Upload-Offset": String(offset), "X-Chunk-SHA256": digest },
      });
      state = answer.data;
      offset = state.offset;
      failures = 0;
      const seconds = (performance.now() - started) / 1000;
      onProgress(offset, blob.size, seconds > 0 ? (offset - startOffset) / seconds : 0);
      if (state.complete) return state;
    } catch (err) {
      if (signal && signal.aborted) throw err;
      if (err.code === "upload_offset_mismatch") {
        offset = err.details.offset;
        continue;
      }
      if (err.code || failures >= 30) throw err; // a refusal: say it; network trouble: keep trying
      failures += 1;
      await sleep(Math.min(1000 * failures, 10000));
      try {
        offset = (await begin()).offset;
        if (onRetry) onRetry(offset);
      } catch (again) {
        if (again.code) throw again;
      }
    }
  }
}
