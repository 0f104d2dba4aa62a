// Requests from the pages: the session cookie and the page's CSRF token (the JSON API takes bearer
// tokens only). A refusal comes back as the platform's error: code and message in the page's language.
import { CodedError } from "./der.js";

export async function send(url, csrf, { method = "POST", json, body, headers = {}, signal } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    signal,
    headers: { Accept: "application/json", "X-CSRFToken": csrf, ...headers },
  };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) init.body = body;
  const response = await fetch(url, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const err = new CodedError(error.code || `http_${response.status}`, error.message || response.statusText);
    err.status = response.status;
    err.details = error.details || {};
    throw err;
  }
  return { status: response.status, data };
}
