// Downloads zoo models into a Hugging Face cache with the real Hugging
// Face Hub JavaScript client (@huggingface/hub, npm), the way an analysis
// tool would: listModels (with file paths), then snapshotDownload of each
// model. Usage: node hf-snapshot.mjs HUB_URL CACHE_DIR ID... Run from a
// folder whose node_modules holds @huggingface/hub (see hf_test.go).
// Prints one line "RESULT <json>" (the client logs to stdout too).
import { listModels, snapshotDownload } from "@huggingface/hub";

const [hubUrl, cacheDir, ...ids] = process.argv.slice(2);
const out = { listed: {}, snapshots: {} };
for await (const m of listModels({ hubUrl, limit: 100, additionalFields: ["filePaths"] })) {
	out.listed[m.name] = m.filePaths;
}
for (const id of ids) {
	out.snapshots[id] = await snapshotDownload({ repo: { type: "model", name: id }, hubUrl, cacheDir });
}
console.log("RESULT " + JSON.stringify(out));
