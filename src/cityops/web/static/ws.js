/* Shared by the workspace pages (工作台, 受理, 案件): messages, API calls, small renderers.
 *
 * Messages come from the page (a JSON block of the translation catalogue, id="messages").
 * API calls use the session cookie and send the CSRF token (meta csrf-token) on unsafe methods.
 * Text from the store is always set as text (textContent), never parsed as HTML.
 */
(function () {
  "use strict";

  const block = document.getElementById("messages");
  const messages = block ? JSON.parse(block.textContent) : {};
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = tokenMeta ? tokenMeta.content : "";

  function msg(key, values) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(path, options) {
    const opts = options || {};
    const method = opts.method || "GET";
    const headers = { Accept: "application/json" };
    let body;
    if (opts.form) {
      body = opts.form;
    } else if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    if (method !== "GET") {
      headers["X-CSRF-Token"] = csrf;
    }
    const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, data);
    }
    return data;
  }

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function when(iso) {
    if (!iso) {
      return "–";
    }
    const moment = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return (
      moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) +
      " " + pad(moment.getHours()) + ":" + pad(moment.getMinutes())
    );
  }

  /* A light as a coloured dot with its name (the colour is never the only signal). */
  function light(value) {
    const name = value ? msg("light." + value) : msg("ws.light.none");
    const badge = el("span", { class: "light light-" + (value || "none") });
    badge.append(el("span", { class: "dot", "aria-hidden": "true" }), el("span", {}, name));
    return badge;
  }

  function problemText(error) {
    if (!(error instanceof ApiError)) {
      return msg("ws.failed");
    }
    const issues = error.problem.errors || [];
    if (issues.length) {
      return issues.map((i) => i.field + ": " + i.message).join("; ");
    }
    if (error.problem.allowed) {
      return error.message + " (" + msg("ws.allowed") + ": " +
        error.problem.allowed.map((c) => msg("cmd." + c)).join("、") + ")";
    }
    return error.message;
  }

  async function uploadPhoto(ref, file) {
    const form = new FormData();
    form.append("file", file);
    return api("/api/v1/cases/" + encodeURIComponent(ref) + "/photos", { method: "POST", form });
  }

  window.cityops = { msg, api, el, when, light, problemText, uploadPhoto, ApiError };
})();
