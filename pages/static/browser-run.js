// zoo: "Try it on your image" in the visitor's browser. zoo's own runner
// (zoo.wasm: the image readers, the description's processing, size rules
// and tiling, compiled from Go) drives ONNX Runtime Web; the image never
// leaves this computer. A model or image the browser cannot run goes to
// the server path (app.js, the jobs API) and the page says why.
// Loaded only on model pages that offer it (templates/_browserrun.html).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("try-form"), cfg = $("try-browser");
  if (!form || !cfg) return;
  const runtime = cfg.dataset.runtime;
  const status = $("try-status"), bar = $("try-progress"), cancel = $("try-cancel");
  const say = (msg, err) => { status.textContent = msg; status.className = err ? "alert error" : ""; };
  const pathNote = (() => {
    let p = $("try-path");
    if (!p) { p = document.createElement("p"); p.id = "try-path"; p.className = "note"; status.before(p); }
    return p;
  })();
  const where = () => (form.querySelector('input[name="where"]:checked') || {}).value || "browser";
  const contrast = document.querySelector("#try-result fieldset.contrast");
  const npyLink = $("try-download-npy");
  let handle = null, session = null, loading = null, urls = [];
  // Timings and bytes of the last run, for tests and bench/browser.sh.
  window.zooBrowserRunStats = null;

  function script(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src; s.onload = resolve;
      s.onerror = () => reject(new Error("cannot load " + src));
      document.head.appendChild(s);
    });
  }

  // load fetches the runtime, zoo's runner, the description and the
  // weights (all cached by the browser: their URLs name fixed bytes), and
  // starts an ONNX Runtime Web session. A problem with the model itself is
  // {fallback: reason}.
  async function load() {
    const t0 = performance.now();
    const gpu = !!(navigator.gpu && await navigator.gpu.requestAdapter().catch(() => null));
    await script(runtime + "wasm_exec.js");
    await script(runtime + (gpu ? "ort/ort.webgpu.min.js" : "ort/ort.wasm.min.js"));
    const ort = window.ort;
    ort.env.wasm.wasmPaths = new URL(runtime + "ort/", location.href).href;
    const threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
    ort.env.wasm.numThreads = threads;
    const ready = new Promise((resolve) => { window.zooBrowserRunReady = resolve; });
    const go = new window.Go();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(runtime + "zoo.wasm"), go.importObject);
    go.run(instance);
    await ready;
    const [descRes, wRes] = await Promise.all([fetch(cfg.dataset.description), fetch(cfg.dataset.weights)]);
    if (!descRes.ok || !wRes.ok) throw new Error("the model's files could not be fetched (" + descRes.status + ", " + wRes.status + ")");
    const description = new Uint8Array(await descRes.arrayBuffer());
    const weights = new Uint8Array(await wRes.arrayBuffer());
    const why = window.zooBrowserRun.supported(description);
    if (why) return { fallback: why };
    const t1 = performance.now();
    const eps = gpu ? ["webgpu", "wasm"] : ["wasm"];
    try {
      session = await ort.InferenceSession.create(weights, { executionProviders: eps, graphOptimizationLevel: "all" });
    } catch (e) {
      const m = /Could not find an implementation for (\S+)/.exec(e.message || "");
      return { fallback: m ? "ONNX Runtime Web has no implementation of the operator " + m[1].replace(/\(.*$/, "") + " that this model uses"
        : "ONNX Runtime Web cannot load this model (" + (e.message || e) + ")" };
    }
    const backend = (gpu ? "WebGPU, else " : "") + "WebAssembly, " + threads + (threads === 1 ? " thread" : " threads");
    // The model's own test, reproduced here once per model and runtime
    // (the verdict is remembered): ONNX Runtime Web must give the server's
    // numbers within the model's tolerance, else the server runs it.
    const t2 = performance.now();
    const key = "zoo-selftest " + runtime + " " + cfg.dataset.weights;
    let selfTest = null;
    try { selfTest = localStorage.getItem(key); } catch (e) { /* storage off */ }
    if (selfTest === null) {
      say("Checking that this browser reproduces the model's test…");
      const [ti, to] = await Promise.all([fetch(cfg.dataset.testInput), fetch(cfg.dataset.testOutput)]);
      if (!ti.ok || !to.ok) throw new Error("the model's test tensors could not be fetched");
      try {
        selfTest = "ok: " + await window.zooBrowserRun.selfTest({ description, model: runModel,
          input: new Uint8Array(await ti.arrayBuffer()), output: new Uint8Array(await to.arrayBuffer()) });
      } catch (e) {
        selfTest = "failed: " + e.message;
      }
      try { localStorage.setItem(key, selfTest); } catch (e) { /* storage off */ }
    }
    if (selfTest.startsWith("failed: ")) return { fallback: selfTest.slice(8) };
    return { description, backend, loadMs: t1 - t0, sessionMs: t2 - t1, selfTestMs: performance.now() - t2 };
  }

  // runModel is the network alone, for zoo.wasm: ONNX Runtime Web's run
  // on inputs and outputs as {type, dims, data: Uint8Array}.
  async function runModel(inputs) {
    // A macrotask between blocks: the page repaints and takes clicks.
    await new Promise((r) => setTimeout(r, 0));
    const feeds = {};
    inputs.forEach((t, i) => {
      const T = typed[t.type];
      if (!T) throw new Error("input type " + t.type);
      feeds[session.inputNames[i]] = new window.ort.Tensor(t.type, new T(t.data.buffer, t.data.byteOffset, t.data.byteLength / T.BYTES_PER_ELEMENT), t.dims);
    });
    const res = await session.run(feeds);
    return session.outputNames.map((n) => {
      const o = res[n], d = o.data;
      return { type: o.type, dims: o.dims, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
    });
  }

  // toServer offers the server path when the browser cannot run the
  // model or the image: it never uploads the image unasked.
  function toServer(reason) {
    form.dataset.path = "fallback";
    form.dataset.fallback = reason;
    pathNote.textContent = "This browser cannot run it: " + reason + ". Choose \u201cRun the model\u201d again to run it on this server instead (your image is then uploaded).";
    const srv = form.querySelector('input[name="where"][value="server"]');
    if (srv) srv.checked = true;
    say("");
  }

  const typed = {
    float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
    int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
  };

  form.addEventListener("submit", async (ev) => {
    if (where() !== "browser") {
      pathNote.textContent = form.dataset.fallback ? "Running on this server: " + form.dataset.fallback + "." : "Running on this server (your choice).";
      form.dataset.path = "server";
      if (contrast) contrast.hidden = false;
      if (npyLink) npyLink.hidden = true;
      return; // app.js submits the job
    }
    ev.preventDefault();
    ev.stopImmediatePropagation();
    const f = $("try-file").files[0];
    if (!f) { say("Choose a TIFF, PNG or NumPy (.npy) image first.", true); return; }
    if (f.size > 1 << 30) { toServer("the file is larger than 1 GiB, too large for the browser"); return; }
    form.dataset.path = "browser";
    delete form.dataset.fallback;
    pathNote.textContent = "Running in this browser: your image stays on your computer.";
    $("try-result").hidden = true;
    bar.hidden = false; bar.value = 0; cancel.hidden = false;
    const t0 = performance.now();
    let model;
    try {
      if (!loading) { say("Loading the model and the runtime (once; your browser keeps them)…"); loading = load(); }
      model = await loading;
    } catch (e) {
      loading = null;
      bar.hidden = true; cancel.hidden = true;
      toServer("the in-browser runtime did not start (" + e.message + ")");
      return;
    }
    if (model.fallback) { bar.hidden = true; cancel.hidden = true; toServer(model.fallback); return; }
    say("Reading " + f.name + "…");
    const image = new Uint8Array(await f.arrayBuffer());
    const plane = Math.max(0, (parseInt(($("try-plane") || {}).value, 10) || 1) - 1);
    const t1 = performance.now();
    handle = window.zooBrowserRun.run({
      description: model.description, image, plane,
      progress: (done, total) => { bar.value = done / total; say("Running in your browser: block " + done + " of " + total + "…"); },
      model: runModel,
    });
    let out;
    try {
      out = await handle.promise;
    } catch (e) {
      handle = null;
      bar.hidden = true; cancel.hidden = true;
      if (e.name === "too large") { toServer("the image is too large for the browser: " + e.message); return; }
      if (e.name === "unavailable" && /cancelled/.test(e.message)) { say("Cancelled."); return; }
      say("The model failed on this image: " + e.message, true);
      return;
    }
    handle = null;
    const t2 = performance.now();
    bar.hidden = true; cancel.hidden = true;
    urls.forEach((u) => URL.revokeObjectURL(u));
    const blob = (bytes, type) => { const u = URL.createObjectURL(new Blob([bytes], { type })); urls.push(u); return u; };
    $("try-in").src = blob(out.inputPNG, "image/png");
    $("try-out").src = blob(out.outputPNG, "image/png");
    const stem = f.name.replace(/\.[^.]*$/, "") + "_prediction";
    const tif = $("try-download");
    tif.href = blob(out.tiff, "image/tiff"); tif.download = stem + ".tif";
    if (npyLink) { npyLink.href = blob(out.npy, "application/octet-stream"); npyLink.download = stem + ".npy"; npyLink.hidden = false; }
    if (contrast) contrast.hidden = true;
    $("try-result").hidden = false;
    const secs = ((t2 - t0) / 1000).toFixed(1);
    pathNote.textContent = "Ran in this browser (" + model.backend + "); your image did not leave your computer.";
    say("Done in " + secs + " s" + (out.blocks > 1 ? ", in " + out.blocks + " blocks" : "") + "." +
      (out.notes.length ? " Note: " + out.notes.join("; ") + "." : ""));
    window.zooBrowserRunStats = { loadMs: model.loadMs, sessionMs: model.sessionMs, selfTestMs: model.selfTestMs, runMs: t2 - t1, totalMs: t2 - t0, blocks: out.blocks, shape: out.shape };
    model.loadMs = 0; model.sessionMs = 0; model.selfTestMs = 0; // later runs reuse them
  }, true);

  cancel.addEventListener("click", () => {
    if (handle) handle.cancel();
  });
})();
