// zoo pages: "Fine-tune on your images" on a model page (issue #20). No
// dependencies; talks to /api/v1/finetune with the session's CSRF token
// and draws the loss curve as SVG.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("finetune-form");
  if (!form) return;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const status = $("finetune-status"), bar = $("finetune-progress"), cancel = $("finetune-cancel");
  const curveBox = $("finetune-curve-box"), curve = $("finetune-curve");
  const result = $("finetune-result"), summary = $("finetune-summary"), draft = $("finetune-draft"), submitDraft = $("finetune-submit");
  const svgNS = "http://www.w3.org/2000/svg";
  let job = null, timer = null;

  async function detail(res) {
    let p = {};
    try { p = await res.json(); } catch (e) { /* not JSON */ }
    if (p.detail) return p.detail;
    if (res.status === 413) return "The zip is too large for this server.";
    if (res.status === 401) return "Sign in first.";
    return "The server answered " + res.status + ".";
  }

  function post(url, body, type) {
    const headers = { "X-CSRF-Token": csrf };
    if (type) headers["Content-Type"] = type;
    return fetch(url, { method: "POST", body: body, headers: headers, credentials: "same-origin" });
  }

  // draw plots the losses as a polyline scaled to the box, with the first
  // and last loss as labels.
  function draw(losses, total) {
    while (curve.lastChild && curve.lastChild.nodeName !== "title") curve.removeChild(curve.lastChild);
    if (!losses.length) return;
    curveBox.hidden = false;
    const W = 400, H = 160, pad = 24, left = 56;
    const lo = Math.min(...losses), hi = Math.max(...losses);
    const span = hi - lo || 1, n = Math.max(total, losses.length, 2);
    const pts = losses.map((l, i) => {
      const x = left + (W - left - pad) * (i / (n - 1));
      const y = H - pad - (H - 2 * pad) * ((l - lo) / span);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const axis = document.createElementNS(svgNS, "path");
    axis.setAttribute("d", "M" + left + " " + pad + " V" + (H - pad) + " H" + (W - pad));
    axis.setAttribute("class", "axis");
    axis.setAttribute("fill", "none");
    axis.setAttribute("stroke", "currentColor");
    axis.setAttribute("stroke-opacity", "0.4");
    curve.appendChild(axis);
    const line = document.createElementNS(svgNS, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "currentColor");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("id", "finetune-line");
    curve.appendChild(line);
    const label = (text, x, y, anchor) => {
      const t = document.createElementNS(svgNS, "text");
      t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "11");
      t.setAttribute("text-anchor", anchor); t.setAttribute("fill", "currentColor");
      t.textContent = text;
      curve.appendChild(t);
    };
    label(hi.toPrecision(3), left - 4, pad + 4, "end");
    label(lo.toPrecision(3), left - 4, H - pad, "end");
    label("iteration " + losses.length + " of " + total, W - pad, H - 6, "end");
  }

  function show(j) {
    job = j;
    bar.hidden = false;
    bar.value = j.fraction || 0;
    const loss = j.losses.length ? ", loss " + j.losses[j.losses.length - 1].toPrecision(4) : "";
    let text = j.state.charAt(0).toUpperCase() + j.state.slice(1) + ": iteration " + j.iteration + " of " + j.iterations + loss + ". " + j.message.charAt(0).toUpperCase() + j.message.slice(1) + ".";
    if (j.resumed && j.resumed.length) text += " (resumed from a checkpoint at iteration " + j.resumed[j.resumed.length - 1] + ")";
    if (j.error) text = "Failed: " + j.error;
    status.textContent = text;
    draw(j.losses, j.iterations);
    const done = j.state === "succeeded" || j.state === "failed" || j.state === "cancelled";
    cancel.hidden = done;
    form.querySelector('button[type="submit"]').disabled = !done;
    if (j.state === "succeeded" && j.draft) {
      result.hidden = false;
      let s = "Your draft model " + j.draft.id + "/" + j.draft.version + " names " + j.parent + " as its parent.";
      if (j.metric && j.before && j.after) {
        s += " Held-out " + j.metric.toUpperCase() + ": " + j.before[j.metric].toPrecision(4) + " → " + j.after[j.metric].toPrecision(4) + ".";
      }
      if (j.dataset) s += " Your training images are the dataset draft " + j.dataset.id + "/" + j.dataset.version + ".";
      summary.textContent = s;
      draft.href = "/models/" + encodeURIComponent(j.draft.id) + "/" + j.draft.version;
    }
    return done;
  }

  async function poll() {
    if (!job) return;
    const res = await fetch("/api/v1/finetune/" + job.id, { credentials: "same-origin" });
    if (!res.ok) { status.textContent = await detail(res); return; }
    if (!show(await res.json())) timer = setTimeout(poll, 2000);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("finetune-file").files[0];
    if (!file) return;
    const q = new URLSearchParams({ model: form.dataset.model, task: $("finetune-task").value, iterations: $("finetune-iterations").value });
    if ($("finetune-publish-data").checked) q.set("publish_data", "true");
    status.textContent = "Uploading " + file.name + "…";
    result.hidden = true;
    const res = await post("/api/v1/finetune?" + q.toString(), file, "application/zip");
    if (!res.ok) { status.textContent = await detail(res); return; }
    const j = await res.json();
    if ($("finetune-keep").checked) await post("/api/v1/finetune/" + j.id + "/keep?keep=true");
    if (!show(j)) timer = setTimeout(poll, 1000);
  });

  cancel.addEventListener("click", async () => {
    if (!job) return;
    const res = await post("/api/v1/finetune/" + job.id + "/cancel");
    if (res.ok) { clearTimeout(timer); show(await res.json()); } else status.textContent = await detail(res);
  });

  submitDraft.addEventListener("click", async () => {
    if (!job || !job.draft) return;
    const res = await post("/api/v1/models/" + encodeURIComponent(job.draft.id) + "/versions/" + job.draft.version + "/submit");
    if (!res.ok) { summary.textContent = await detail(res); return; }
    // The dataset of the training images, when one was asked for, goes
    // to review with it.
    if (job.dataset) {
      const dres = await post("/api/v1/models/" + encodeURIComponent(job.dataset.id) + "/versions/" + job.dataset.version + "/submit");
      if (!dres.ok) { summary.textContent = "The model was submitted; the dataset was not: " + await detail(dres); return; }
    }
    submitDraft.disabled = true;
    submitDraft.textContent = job.dataset ? "Submitted for review (model and dataset)" : "Submitted for review";
  });
})();
