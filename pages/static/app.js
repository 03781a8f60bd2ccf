// zoo pages: small enhancements, no dependencies. Loaded with defer.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // problem reads an RFC 9457 problem document from a failed response.
  async function problem(res) {
    let p = {};
    try { p = await res.json(); } catch (e) { /* not JSON */ }
    if (!p.detail) {
      if (res.status === 413) p.detail = "The file is too large for this server.";
      else if (res.status === 401) p.detail = "Log in first.";
      else p.detail = "The server answered " + res.status + ".";
    }
    return p;
  }

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("button[data-copy]").forEach((b) => {
    b.addEventListener("click", async () => {
      const text = $(b.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "Copied";
      } catch (e) {
        const r = document.createRange();
        r.selectNodeContents($(b.dataset.copy));
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
        b.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { b.textContent = b.dataset.copy === "citation" ? "Copy citation" : "Copy"; }, 2500);
    });
  });

  // Facets: apply on change.
  const facetForm = $("facet-form");
  if (facetForm) {
    facetForm.addEventListener("change", () => facetForm.submit());
  }

  // "Try it on your image": the jobs API.
  const tryForm = $("try-form");
  if (tryForm) {
    let job = null, timer = null, inputName = "";
    const status = $("try-status"), bar = $("try-progress"), cancel = $("try-cancel");
    const say = (msg, err) => { status.textContent = msg; status.className = err ? "alert error" : ""; };
    const previews = () => {
      const q = "?low=" + $("try-low").value + "&high=" + $("try-high").value;
      $("try-in").src = "/api/v1/jobs/" + encodeURIComponent(job) + "/preview/input.png" + q;
      $("try-out").src = "/api/v1/jobs/" + encodeURIComponent(job) + "/preview/output.png" + q;
    };
    $("try-low").addEventListener("change", previews);
    $("try-high").addEventListener("change", previews);
    async function poll() {
      const res = await fetch("/api/v1/jobs/" + encodeURIComponent(job), { headers: { Accept: "application/json" } });
      if (!res.ok) { say((await problem(res)).detail, true); bar.hidden = true; cancel.hidden = true; return; }
      const j = await res.json();
      // progress is {done, total, fraction} (tiles); older servers send a number.
      const pr = j.progress;
      const frac = typeof pr === "number" ? pr : (pr && pr.fraction) || 0;
      bar.value = Number.isFinite(frac) ? frac : 0;
      const tiles = pr && pr.total ? " tile " + Math.min(pr.done + 1, pr.total) + " of " + pr.total : "";
      // The server's message repeats the tiles ("tile 1 of 6") or the state
      // ("queued"); show it only when it says something else.
      const extra = j.message && !/^(tile \d|queued$|running$)/.test(j.message) ? " (" + j.message + ")" : "";
      switch (j.state) {
        case "succeeded":
          bar.hidden = true; cancel.hidden = true;
          // "done; NOTE": how the image was read (e.g. colour to grey).
          say(j.message && j.message.startsWith("done; ") ? "Done. Note: " + j.message.slice(6) + "." : "Done.");
          previews();
          $("try-download").href = "/api/v1/jobs/" + encodeURIComponent(job) + "/result?format=tif&name=" + encodeURIComponent(inputName);
          $("try-result").hidden = false;
          return;
        case "failed": case "cancelled": case "expired":
          bar.hidden = true; cancel.hidden = true;
          say(j.state === "failed" ? "The model failed on this image: " + (j.error || j.message || "no reason given") : "The job was " + j.state + ".", j.state === "failed");
          return;
      }
      say((j.state === "queued" ? "Waiting for a worker…" : "Running…" + tiles) + extra);
      timer = setTimeout(() => poll().catch((e) => say("Lost contact with the server: " + e.message, true)), 700);
    }
    tryForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = $("try-file").files[0];
      if (!f) { say("Choose a TIFF or PNG image first.", true); return; }
      const lower = f.name.toLowerCase();
      const type = lower.endsWith(".png") ? "image/png" : (lower.endsWith(".tif") || lower.endsWith(".tiff")) ? "image/tiff" : "";
      if (!type) { say("Only TIFF (.tif, .tiff) and PNG (.png) images can be used.", true); return; }
      clearTimeout(timer);
      inputName = f.name;
      $("try-result").hidden = true;
      say("Uploading " + f.name + "…");
      bar.hidden = false; bar.value = 0; cancel.hidden = false;
      const headers = { "Content-Type": type, Accept: "application/json" };
      if (csrf) headers["X-CSRF-Token"] = csrf;
      let res;
      try {
        res = await fetch("/api/v1/jobs?model=" + encodeURIComponent(tryForm.dataset.model), { method: "POST", headers, body: f });
      } catch (e) {
        say("The upload failed: " + e.message, true); bar.hidden = true; cancel.hidden = true; return;
      }
      if (res.status !== 202 && res.status !== 201 && res.status !== 200) {
        const p = await problem(res);
        say(res.status === 413 ? "This image is too large: " + p.detail : p.detail, true);
        bar.hidden = true; cancel.hidden = true;
        return;
      }
      job = (await res.json()).id;
      poll().catch((e) => say("Lost contact with the server: " + e.message, true));
    });
    cancel.addEventListener("click", async () => {
      if (!job) return;
      clearTimeout(timer);
      const headers = csrf ? { "X-CSRF-Token": csrf } : {};
      await fetch("/api/v1/jobs/" + encodeURIComponent(job), { method: "DELETE", headers });
      bar.hidden = true; cancel.hidden = true;
      say("Cancelled.");
    });
  }

  // Upload: a zip, or a folder zipped here (store method).
  const upForm = $("upload-form");
  if (upForm) {
    let picked = null; // {zip: File} or {files: [{path, file}]}
    const status = $("upload-status"), drop = $("dropzone");
    const say = (msg, err) => { status.textContent = msg; status.className = err ? "alert error" : "alert ok"; };
    const describe = () => {
      if (!picked) return;
      drop.querySelector("p").textContent = picked.zip ? "Ready: " + picked.zip.name : "Ready: folder with " + picked.files.length + " files";
    };
    $("upload-zip").addEventListener("change", (e) => { if (e.target.files[0]) { picked = { zip: e.target.files[0] }; describe(); } });
    $("upload-dir").addEventListener("change", (e) => {
      picked = { files: Array.from(e.target.files).map((f) => ({ path: stripTop(f.webkitRelativePath || f.name), file: f })) };
      describe();
    });
    drop.addEventListener("click", () => $("upload-zip").click());
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("upload-zip").click(); } });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", async (e) => {
      e.preventDefault(); drop.classList.remove("over");
      const items = Array.from(e.dataTransfer.items || []).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
      if (items.length === 1 && items[0].isFile && items[0].name.toLowerCase().endsWith(".zip")) {
        picked = { zip: e.dataTransfer.files[0] };
      } else if (items.length) {
        const files = [];
        for (const it of items) await walk(it, "", files);
        picked = { files: items.length === 1 && items[0].isDirectory ? files.map((f) => ({ path: stripTop(f.path), file: f.file })) : files };
      } else if (e.dataTransfer.files.length) {
        picked = { zip: e.dataTransfer.files[0] };
      }
      describe();
    });
    upForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!picked) { say("Choose a zip or a folder first.", true); return; }
      $("upload-report").hidden = true;
      const dup = $("upload-duplicate"); if (dup) dup.remove();
      let body;
      if (picked.zip) body = picked.zip;
      else {
        say("Packing " + picked.files.length + " files…");
        try { body = await zipStore(picked.files); } catch (e) { say(e.message, true); return; }
      }
      say("Uploading and validating…");
      const headers = { "Content-Type": "application/zip", Accept: "application/json" };
      if (csrf) headers["X-CSRF-Token"] = csrf;
      const model = upForm.dataset.model;
      const res = await fetch("/api/v1/models" + (model ? "?model=" + encodeURIComponent(model) : ""), { method: "POST", headers, body });
      if (res.status === 201) {
        const v = await res.json();
        status.className = "alert ok";
        status.textContent = "";
        status.append("Uploaded " + v.id + " version " + v.version + " (" + v.state + "). The test runs now; follow it on ");
        const a = document.createElement("a"); a.href = "/my"; a.textContent = "My submissions";
        status.append(a, " or the ");
        const m = document.createElement("a"); m.href = "/models/" + encodeURIComponent(v.id) + "/" + v.version; m.textContent = "model page";
        status.append(m, ".");
        if (v.duplicate_of && v.duplicate_of.length) showDuplicate(v);
        return;
      }
      const p = await problem(res);
      say(p.detail, true);
      if (p.report) showReport(p.report);
    });
    // A re-upload of content already stored: say where, and offer to
    // withdraw the new version (POST …/withdraw).
    function showDuplicate(v) {
      const ref = v.id + "/" + v.version;
      const box = document.createElement("div");
      box.className = "alert duplicate"; box.id = "upload-duplicate";
      box.append("The same content is already at ");
      v.duplicate_of.forEach((d, i) => {
        const [id, n] = d.split("/");
        const a = document.createElement("a"); a.href = "/models/" + encodeURIComponent(id) + "/" + encodeURIComponent(n); a.textContent = d;
        box.append(i ? ", " : "", a);
      });
      box.append(" (the same files; only the model id differs). If you did not mean to upload it again, withdraw " + ref + ": ");
      const b = document.createElement("button"); b.type = "button"; b.className = "danger"; b.id = "withdraw-upload"; b.textContent = "Withdraw this upload";
      b.addEventListener("click", async () => {
        b.disabled = true;
        const h = { "Content-Type": "application/json", Accept: "application/json" };
        if (csrf) h["X-CSRF-Token"] = csrf;
        const res = await fetch("/api/v1/models/" + encodeURIComponent(v.id) + "/versions/" + v.version + "/withdraw", { method: "POST", headers: h, body: JSON.stringify({ reason: "same content as " + v.duplicate_of.join(", ") }) });
        if (res.ok) { box.className = "alert ok"; box.textContent = ref + " is withdrawn; it will not be reviewed."; return; }
        const p = await problem(res);
        b.disabled = false; box.append(" " + p.detail);
      });
      box.append(b);
      status.after(box);
    }
    function showReport(rep) {
      const body = $("upload-problems");
      body.replaceChildren();
      const rows = (rep.errors || []).map((x) => [x, "error"]).concat((rep.warnings || []).map((x) => [x, "warning"]));
      for (const [x, sev] of rows) {
        const tr = document.createElement("tr");
        for (const t of [x.line ? String(x.line) : "", x.loc || "", (sev === "warning" ? "warning: " : "") + x.msg]) {
          const td = document.createElement("td"); td.textContent = t; tr.append(td);
        }
        body.append(tr);
      }
      $("upload-report").hidden = rows.length === 0;
    }
  }

  function stripTop(p) {
    const i = p.indexOf("/");
    return i >= 0 ? p.slice(i + 1) : p;
  }

  function walk(entry, prefix, out) {
    return new Promise((resolve, reject) => {
      if (entry.isFile) {
        entry.file((f) => { out.push({ path: prefix + entry.name, file: f }); resolve(); }, reject);
        return;
      }
      const reader = entry.createReader();
      const all = [];
      const next = () => reader.readEntries(async (batch) => {
        if (!batch.length) {
          for (const e of all) await walk(e, prefix + entry.name + "/", out);
          resolve();
          return;
        }
        all.push(...batch); next();
      }, reject);
      next();
    });
  }

  // zipStore builds a zip (method store, no compression) of files
  // [{path, file}] as a Blob. Limits: 65535 files, 2 GiB in all.
  const crcTable = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(buf) {
    let c = 0xffffffff;
    for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }
  async function zipStore(files) {
    if (files.length > 65535) throw new Error("Too many files for a zip made in the browser; zip the folder yourself.");
    const total = files.reduce((s, f) => s + f.file.size, 0);
    if (total > 2 ** 31) throw new Error("The folder is larger than 2 GiB; zip it yourself and upload the zip.");
    const enc = new TextEncoder();
    const parts = [], central = [];
    let offset = 0;
    for (const { path, file } of files) {
      const name = enc.encode(path);
      const data = new Uint8Array(await file.arrayBuffer());
      const crc = crc32(data);
      const h = new DataView(new ArrayBuffer(30));
      h.setUint32(0, 0x04034b50, true); h.setUint16(4, 20, true); h.setUint16(6, 0x0800, true);
      h.setUint16(8, 0, true); h.setUint16(10, 0, true); h.setUint16(12, 0x21, true);
      h.setUint32(14, crc, true); h.setUint32(18, data.length, true); h.setUint32(22, data.length, true);
      h.setUint16(26, name.length, true); h.setUint16(28, 0, true);
      parts.push(h, name, data);
      const c = new DataView(new ArrayBuffer(46));
      c.setUint32(0, 0x02014b50, true); c.setUint16(4, 20, true); c.setUint16(6, 20, true); c.setUint16(8, 0x0800, true);
      c.setUint16(10, 0, true); c.setUint16(12, 0, true); c.setUint16(14, 0x21, true);
      c.setUint32(16, crc, true); c.setUint32(20, data.length, true); c.setUint32(24, data.length, true);
      c.setUint16(28, name.length, true); c.setUint32(42, offset, true);
      central.push(c, name);
      offset += 30 + name.length + data.length;
    }
    const cdSize = central.reduce((s, p) => s + p.byteLength, 0);
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true); end.setUint16(8, files.length, true); end.setUint16(10, files.length, true);
    end.setUint32(12, cdSize, true); end.setUint32(16, offset, true);
    return new Blob([...parts, ...central, end], { type: "application/zip" });
  }
})();
