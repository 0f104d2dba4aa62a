// The platform's resumable upload (bidding/uploads.py), from the page: OUT.sig first (the answer says
// where the platform's copy stops), then chunks with their offset and SHA-256. A dropped connection is
// retried from the platform's offset, so a closed laptop lid or a flaky network costs only a chunk.
//
// Up to ``ahead`` + 1 chunks are on the way at once (the platform says how many it takes): while it
// writes and syncs one, the next is already coming in, so the line does not idle between chunks. The
// answers are taken in order; any trouble stops the others and the upload goes on from the platform's
// offset, as before.
import { hex, toBase64 } from "./der.js";
import { send } from "./post.js";

// The chunk the page sends (the platform takes up to 16 MiB). Sealing takes each chunk's SHA-256 as the
// ciphertext is made (seal-worker.js), so that the upload need not read and hash the file first.
export const UPLOAD_CHUNK = 16 * 1024 * 1024;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function uploadPart({
  beginUrl,
  chunkUrl,
  csrf,
  blob,
  signature,
  chunkSha256,
  onProgress,
  onRetry,
  signal,
}) {
  const sigHeader = toBase64(new TextEncoder().encode(signature));
  let url = null;
  // Where the platform's copy stands (a new upload if the last one is over, or the part held already).
  const begin = async () => {
    const answer = (await send(beginUrl, csrf, { headers: { "X-Bid-Signature": sigHeader }, signal })).data;
    url = chunkUrl.replace("00000000-0000-0000-0000-000000000000", answer.id);
    return answer;
  };
  let state = await begin();
  if (state.complete) return state;
  const step = Math.min(state.chunk_max, UPLOAD_CHUNK);
  const depth = 1 + Math.max(0, Math.min(state.ahead || 0, 2));
  let offset = state.offset;
  let failures = 0;
  const started = performance.now();
  const startOffset = offset;
  onProgress(offset, blob.size, 0);

  // Chunks are read and hashed one after the other and sent in that order, so the platform sees them
  // come in order (a chunk that overtakes the one before it waits there for it).
  let inOrder = Promise.resolve();
  const put = (at, stop) => {
    const piece = blob.slice(at, Math.min(at + step, blob.size));
    const known = chunkSha256 && step === UPLOAD_CHUNK && at % step === 0 ? chunkSha256[at / step] : null;
    const ready = inOrder.then(async () => {
      if (known) return known;
      const bytes = await piece.arrayBuffer();
      const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
      // Freed now rather than at the next collection: with chunks in flight the collector's lag
      // would otherwise hold a hundred MiB and more of read chunks (the memory goal of issue 15).
      if (bytes.transfer) bytes.transfer(0);
      return digest;
    });
    inOrder = ready.catch(() => {});
    const to = url;
    return ready.then((digest) =>
      send(to, csrf, {
        method: "PATCH",
        body: piece, // a Blob goes up from the file as it is: an ArrayBuffer body is copied (8x slower)
        signal: stop,
        headers: { "Content-Type": "application/octet-stream", "Upload-Offset": String(at), "X-Chunk-SHA256": digest },
      }),
    );
  };

  while (true) {
    // One round: chunks go up from the platform's offset, ``depth`` at a time, until done or trouble.
    const round = new AbortController();
    const onAbort = () => round.abort();
    if (signal) signal.addEventListener("abort", onAbort);
    const flying = [];
    let next = offset;
    const launch = () => {
      while (flying.length < depth && next < blob.size) {
        const at = next;
        const answer = put(at, round.signal);
        answer.catch(() => {}); // taken in order below; a later one's failure must not go unhandled
        flying.push(answer);
        next = Math.min(at + step, blob.size);
      }
    };
    try {
      launch();
      while (flying.length) {
        const answer = await flying.shift();
        state = answer.data;
        offset = state.offset;
        failures = 0;
        const seconds = (performance.now() - started) / 1000;
        onProgress(offset, blob.size, seconds > 0 ? (offset - startOffset) / seconds : 0);
        if (state.complete) return state;
        launch();
      }
    } catch (err) {
      round.abort();
      await Promise.allSettled(flying);
      if (signal && signal.aborted) throw err;
      if (err.code === "upload_offset_mismatch") {
        offset = err.details.offset;
        continue;
      }
      if (err.code === "upload_not_found") {
        // Over: completed by a copy of its last chunk sent before (a reloaded page's), or restarted.
        state = await begin();
        if (state.complete) return state;
        offset = state.offset;
        continue;
      }
      if (err.code || failures >= 30) throw err; // a refusal: say it; network trouble: keep trying
      failures += 1;
      await sleep(Math.min(1000 * failures, 10000));
      try {
        state = await begin();
        if (state.complete) return state;
        offset = state.offset;
        if (onRetry) onRetry(offset);
      } catch (again) {
        if (again.code) throw again;
      }
    } finally {
      if (signal) signal.removeEventListener("abort", onAbort);
    }
  }
}
