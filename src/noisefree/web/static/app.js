// noisefree's page: upload, poll the job, show a before/after comparison, offer the download.
"use strict";
const $ = (id) => document.getElementById(id);
let chosen = null;
let maxMB = 64;

async function loadMethods() {
  const reply = await fetch("/api/methods");
  const info = await reply.json();
  maxMB = info.max_upload_mb;
  for (const m of info.methods) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.label;
    $("method").appendChild(option);
  }
}

function choose(file) {
  if (!file) return;
  if (file.size > maxMB * 1024 * 1024) {
    status(`${file.name} is larger than the server's upload limit of ${maxMB} MB.`, true);
    return;
  }
  chosen = file;
  $("drop-text").textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  $("go").disabled = false;
  status("Ready: press Denoise.");
}

function status(text, bad = false) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", bad);
}

async function run() {
  if (!chosen) return;
  $("go").disabled = true;
  $("download").classList.add("hidden");
  const form = new FormData();
  form.append("file", chosen);
  form.append("method", $("method").value);
  const manual = document.querySelector('input[name="sigma-mode"]:checked').value === "manual";
  form.append("sigma", manual ? $("sigma").value : "auto");
  status("Uploading…");
  const reply = await fetch("/api/jobs", { method: "POST", body: form });
  const job = await reply.json();
  if (!reply.ok) {
    status(job.detail || `The server refused the upload (${reply.status}).`, true);
    $("go").disabled = false;
    return;
  }
  poll(job.id);
}

async function poll(id) {
  const job = await (await fetch(`/api/jobs/${id}`)).json();
  if (job.state === "queued") {
    status(`Waiting in the queue (${job.position} ahead)…`);
  } else if (job.state === "running") {
    const tiles = job.tiles_total ? ` — tiles ${job.tiles_done}/${job.tiles_total}` : "";
    status(`Denoising ${job.width}×${job.height} with ${job.method}${tiles}…`);
  } else if (job.state === "failed") {
    status(`Failed: ${job.error}`, true);
    $("go").disabled = false;
    return;
  } else if (job.state === "done") {
    show(job);
    return;
  }
  setTimeout(() => poll(id), 300);
}

function show(job) {
  const est = job.sigma_estimated_8bit.toFixed(1);
  const used = job.sigma_used_8bit === null ? "the method is blind (takes no σ)"
    : `used σ ${job.sigma_used_8bit.toFixed(1)}` + (job.sigma_clipped ? " (the noise left after clipping)" : "");
  status(`Done in ${job.seconds.toFixed(2)} s: ${job.width}×${job.height}, ${job.bits}, ${job.method}. ` +
         `Estimated noise σ ${est} (8-bit); ${used}.` + (job.values ? ` Float values: ${job.values}.` : ""));
  $("before").src = `/api/jobs/${job.id}/input.png`;
  $("after").src = `/api/jobs/${job.id}/result.png`;
  $("viewer").classList.remove("hidden");
  $("viewer").dataset.job = job.id;
  const link = $("download");
  link.href = `/api/jobs/${job.id}/download`;
  link.download = job.download_name;
  link.textContent = `Download ${job.download_name}`;
  link.classList.remove("hidden");
  $("go").disabled = false;
  zoom();
}

function split() {
  const v = $("split").value;
  $("before-clip").style.width = `${v}%`;
  $("divider").style.left = `${v}%`;
}

function zoom() {
  const z = $("zoom").value;
  const img = $("after");
  const w = img.naturalWidth;
  const width = z === "fit" ? "100%" : `${w * Number(z)}px`;
  $("compare").style.width = width;
  $("before").style.width = $("compare").getBoundingClientRect().width + "px";
}

$("file").addEventListener("change", (e) => choose(e.target.files[0]));
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").classList.remove("over");
  choose(e.dataTransfer.files[0]);
});
for (const r of document.querySelectorAll('input[name="sigma-mode"]')) {
  r.addEventListener("change", () => { $("sigma").disabled = r.value === "auto" && r.checked; });
}
$("sigma").addEventListener("input", () => { $("sigma-value").textContent = $("sigma").value; });
$("go").addEventListener("click", run);
$("split").addEventListener("input", split);
$("zoom").addEventListener("change", zoom);
$("after").addEventListener("load", zoom);
window.addEventListener("resize", zoom);
split();
loadMethods();
