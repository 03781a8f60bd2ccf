// Drives a zoo instance with the real Hugging Face Hub JavaScript client
// (@huggingface/hub, npm). Usage: node hfjs-client.mjs HUB_URL MODEL_ID
// (HUB_URL = BASE/hf). Run from a folder whose node_modules holds
// @huggingface/hub (see hfclient_test.go). Prints one JSON object.
import { listModels, modelInfo, downloadFile, fileExists, listFiles, fileDownloadInfo } from "@huggingface/hub";
import { createHash } from "node:crypto";

const [hubUrl, id] = process.argv.slice(2);
const out = { models: [] };
for await (const m of listModels({ hubUrl, limit: 10 })) out.models.push(m.name);
const info = await modelInfo({ name: id, hubUrl, additionalFields: ["sha", "siblings"] });
out.sha = info.sha;
out.siblings = (info.siblings || []).map((s) => s.rfilename);
out.files = [];
for await (const f of listFiles({ repo: { type: "model", name: id }, hubUrl })) out.files.push(f.path);
const w = out.siblings.find((p) => p.endsWith(".onnx"));
const di = await fileDownloadInfo({ repo: id, path: w, hubUrl });
out.weightsInfo = { size: di.size, etag: di.etag };
const raw = await fileDownloadInfo({ repo: id, path: w, hubUrl, raw: true });
out.rawPointerSize = raw.size;
const blob = await downloadFile({ repo: id, path: w, hubUrl });
out.weightsSHA256 = createHash("sha256").update(Buffer.from(await blob.arrayBuffer())).digest("hex");
const y = await downloadFile({ repo: id, path: "rdf.yaml", revision: info.sha, hubUrl });
out.rdfFirstLine = (await y.text()).split("\n")[0];
out.exists = [await fileExists({ repo: id, path: "rdf.yaml", hubUrl }), await fileExists({ repo: id, path: "nope.txt", hubUrl })];
console.log(JSON.stringify(out));
